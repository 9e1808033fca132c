"""Real peers: OpenManager and Prometheus scrape the same real node_exporter; same series.

Both scrape one `prometheus-node-exporter` every second; once each has scraped it a few
times, the label sets of `{job="node"}` series (the exporter's and the report series `up`,
`scrape_*`) must be identical. Series whose presence varies from scrape to scrape are
allowed to differ (see `VOLATILE`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api import conftest as api_conftest
from tests.api.conftest import MakeClient
from tests.peers import run_node_exporter, run_prometheus

pytestmark = pytest.mark.integration
make_client = api_conftest.make_client  # the app factory fixture, shared with tests/api

SCRAPES = 4
VOLATILE: frozenset[str] = frozenset()
"""Metric names allowed in one set only (none needed so far on Debian's node_exporter 1.5)."""


def _prometheus_config(address: str) -> str:
    return (
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n"
        f"  - job_name: node\n    static_configs:\n      - targets: ['{address}']\n"
    )


def _series(get: Any, start: float) -> set[tuple[tuple[str, str], ...]]:
    resp = get("/api/v1/series", params={"match[]": '{job="node"}', "start": str(start)})
    assert resp.status_code == 200, resp.text
    return {tuple(sorted(s.items())) for s in resp.json()["data"]}


def _wait(predicate: Any, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_same_series_as_prometheus(tmp_path: Path, make_client: MakeClient) -> None:
    start = time.time() - 1
    with run_node_exporter(tmp_path) as exporter:
        address = exporter.removeprefix("http://")
        om = make_client(
            simulator={"enabled": False},
            scrape_configs=[
                {
                    "job_name": "node",
                    "scrape_interval": "1s",
                    "scrape_timeout": "1s",
                    "static_configs": [{"targets": [address]}],
                }
            ],
        )
        with (
            run_prometheus(tmp_path, _prometheus_config(address)) as prom_url,
            httpx.Client(base_url=prom_url, timeout=10) as prom,
        ):

            def healthy(get: Any) -> bool:
                targets = get("/api/v1/targets").json()["data"]["activeTargets"]
                return [t["health"] for t in targets] == ["up"]

            _wait(lambda: healthy(prom.get) and healthy(om.get))
            time.sleep(SCRAPES)  # both have scraped it several times now
            ours, theirs = _series(om.get, start), _series(prom.get, start)
            (our_target,) = om.get("/api/v1/targets").json()["data"]["activeTargets"]
            (their_target,) = prom.get("/api/v1/targets").json()["data"]["activeTargets"]

    # /api/v1/targets: the same fields, and the same values where they do not depend on time.
    assert our_target.keys() == their_target.keys()
    for key in ("discoveredLabels", "labels", "scrapePool", "scrapeUrl", "health", "lastError"):
        assert our_target[key] == their_target[key], key

    only_ours = {s for s in ours - theirs if dict(s)["__name__"] not in VOLATILE}
    only_theirs = {s for s in theirs - ours if dict(s)["__name__"] not in VOLATILE}
    assert len(theirs) > 200
    names = {dict(s)["__name__"] for s in ours}
    assert {
        "up",
        "scrape_duration_seconds",
        "scrape_series_added",
        "node_cpu_seconds_total",
    } <= names
    assert not only_ours and not only_theirs, (sorted(only_ours)[:10], sorted(only_theirs)[:10])
