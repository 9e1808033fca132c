"""Stored samples for the exporter tests: a small real store with awkward label values."""

from __future__ import annotations

import math
from pathlib import Path

from openmanager.config.settings import StorageSettings
from openmanager.samples import SampleBatch, SeriesMeta, make_labels
from openmanager.tsdb.factory import open_storage
from openmanager.tsdb.storage import Storage

T0 = 1_700_000_000_000
"""First sample time (ms); samples every 15 s."""

POINTS = 20
SERVERS = ("web-01", "db primary,01")  # a space and a comma, which line protocol must escape
EXPECTED_FINITE = 4 * POINTS  # cpu per server, the counter and load1 of web-01
EXPECTED_ALL = EXPECTED_FINITE + 1  # load1 of web-01 has one NaN point too


def filled_storage(path: Path) -> Storage:
    """A store with a gauge per server (`node_cpu_ratio`), a counter and a NaN in a third series."""
    st = open_storage(StorageSettings(path=path, wal_fsync=False))
    times = [T0 + i * 15_000 for i in range(POINTS)]
    items = []
    for n, server in enumerate(SERVERS):
        labels = make_labels("node_cpu_ratio", {"server": server, "mode": "a=b"})
        items.append((labels, times, [0.1 * n + i / 100 for i in range(POINTS)]))
    items.append(
        (
            make_labels("node_requests_total", {"server": "web-01"}),
            times,
            [float(i * 10) for i in range(POINTS)],
        )
    )
    items.append(
        (
            make_labels("node_load1", {"server": "web-01"}),
            [*times, times[-1] + 1],
            [*[1.5] * POINTS, math.nan],
        )
    )
    meta = {
        "node_cpu_ratio": SeriesMeta(type="gauge", help="CPU busy ratio."),
        "node_requests_total": SeriesMeta(type="counter", help="Requests."),
    }
    st.append(SampleBatch.from_series(items, meta))
    return st
