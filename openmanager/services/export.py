"""Export: write a time range of stored series as OpenMetrics (timestamps in seconds, `# EOF`).

Families are written one after another (OpenMetrics keeps each together) and each family is
read in time windows, so memory holds one family-window at a time. Backfilling the output
into an empty store gives back the same samples and metadata.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from openmanager.errors import InvalidInput
from openmanager.ingest.exposition_write import OpenMetricsWriter, family_of
from openmanager.samples import METRIC_NAME, Labels, SeriesMeta, is_stale, labels_get
from openmanager.tsdb.matchers import Matcher, MatchType
from openmanager.tsdb.storage import Series, Storage

DEFAULT_WINDOW_MS = 6 * 3_600_000
ALL_SERIES = (Matcher(METRIC_NAME, MatchType.RE, ".+"),)


@dataclass
class ExportReport:
    """What an export wrote."""

    series: int
    samples: int
    families: int
    bytes: int
    seconds: float
    stale_dropped: int = 0
    """Stale markers left out: text formats cannot carry them (Prometheus's /federate drops them too)."""


def parse_selector(text: str) -> list[Matcher]:
    """Matchers of a PromQL series selector such as `up{job="node"}` or `{__name__=~"node_.*"}`."""
    from openmanager.promql import ast
    from openmanager.promql.parse import parse_expr

    node = parse_expr(text)
    if not isinstance(node, ast.VectorSelector) or node.offset_ms or node.at is not None:
        raise InvalidInput(
            f"{text!r} is not a plain series selector: use e.g. 'up{{job=\"node\"}}' or '{{job=~\"a|b\"}}'"
        )
    return list(node.matchers)


def export_openmetrics(
    storage: Storage,
    out: BinaryIO,
    matchers: Sequence[Matcher],
    start_ms: int,
    end_ms: int,
    *,
    window_ms: int = DEFAULT_WINDOW_MS,
) -> ExportReport:
    """Write every sample of the matching series with start_ms <= t <= end_ms to `out`."""
    if end_ms < start_ms:
        raise InvalidInput(f"export end {end_ms} is before its start {start_ms}")
    if window_ms <= 0:
        raise InvalidInput("export window must be positive")
    began = time.perf_counter()
    selector = list(matchers) or list(ALL_SERIES)
    metadata = storage.metadata()
    families: dict[str, list[Labels]] = {}
    for labels in storage.series(selector, start_ms, end_ms):
        name = labels_get(labels, METRIC_NAME)
        families.setdefault(family_of(name, metadata), []).append(labels)
    bounds = _data_bounds(storage, selector, start_ms, end_ms) if families else None
    start_pos = out.tell() if out.seekable() else 0
    writer = OpenMetricsWriter(out)
    written: set[Labels] = set()
    stale = 0
    for family in sorted(families):
        names = sorted({labels_get(lbl, METRIC_NAME) for lbl in families[family]})
        fam_matchers = [*selector, _name_matcher(names)]
        meta = metadata.get(family, SeriesMeta())
        lo, last = bounds or (1, 0)
        while lo <= last:
            hi = min(last, lo + window_ms - 1)
            selected, dropped = _without_stale(storage.select(fam_matchers, lo, hi))
            stale += dropped
            for group in _by_time_grid(selected):
                members = [s.labels for s in group]
                written.update(members)
                values = np.stack([s.values for s in group])
                writer.write_family(family, meta, members, group[0].timestamps, values)
            lo = hi + 1
    writer.close()
    end_pos = out.tell() if out.seekable() else 0
    return ExportReport(
        series=len(written),
        samples=writer.samples,
        families=len(families),
        bytes=end_pos - start_pos,
        seconds=time.perf_counter() - began,
        stale_dropped=stale,
    )


def _data_bounds(
    storage: Storage, matchers: list[Matcher], start_ms: int, end_ms: int
) -> tuple[int, int] | None:
    """First and last timestamps with data in [start, end], by bisection over `series()`."""

    def any_in(lo: int, hi: int) -> bool:
        return bool(storage.series(matchers, lo, hi))

    if not any_in(start_ms, end_ms):
        return None
    lo, hi = start_ms, end_ms  # smallest t with data in [start, t]
    while lo < hi:
        mid = (lo + hi) // 2
        if any_in(start_ms, mid):
            hi = mid
        else:
            lo = mid + 1
    first = lo
    lo, hi = first, end_ms  # largest t with data in [t, end]
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if any_in(mid, end_ms):
            lo = mid
        else:
            hi = mid - 1
    return first, lo


def _name_matcher(names: list[str]) -> Matcher:
    if len(names) == 1:
        return Matcher(METRIC_NAME, MatchType.EQ, names[0])
    return Matcher(METRIC_NAME, MatchType.RE, "|".join(re.escape(n) for n in names))


def _without_stale(series: list[Series]) -> tuple[list[Series], int]:
    """The series with stale-marker samples removed, and how many were removed."""
    out, dropped = [], 0
    for s in series:
        stale = is_stale(s.values)
        if stale.any():
            dropped += int(stale.sum())
            s = Series(s.labels, s.timestamps[~stale], s.values[~stale])
        out.append(s)
    return out, dropped


def _by_time_grid(series: list[Series]) -> list[list[Series]]:
    """Series with samples grouped by identical timestamp arrays (written in one call each)."""
    groups: dict[bytes, list[Series]] = {}
    for s in series:
        if len(s.timestamps):
            groups.setdefault(np.asarray(s.timestamps, dtype=np.int64).tobytes(), []).append(s)
    return list(groups.values())
