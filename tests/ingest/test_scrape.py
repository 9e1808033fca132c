"""The scrape manager: targets, relabelling, labels, limits, staleness and report series.

Targets are served by `httpx.MockTransport` (the world injected), the store is the real
embedded engine over a temp dir, and the clock is a fake so timestamps are exact.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from openmanager.config.scrape import ScrapeConfig
from openmanager.config.settings import StorageSettings
from openmanager.ingest.relabel import compile_rules
from openmanager.ingest.scrape import REPORT_NAMES, ScrapeLoop
from openmanager.ingest.targets import build_targets, static_groups
from openmanager.samples import Labels, SampleBatch, is_stale, make_labels
from openmanager.services.scrape import ScrapeManager
from openmanager.tsdb.factory import open_storage
from openmanager.tsdb.matchers import eq
from openmanager.tsdb.storage import Storage

T0 = 1_700_000_000.0
PAGE = b"""# HELP node_load1 1m load average.
# TYPE node_load1 gauge
node_load1 0.5
# TYPE http_requests_total counter
http_requests_total{code="200",job="app"} 10
http_requests_total{code="500",job="app"} 2
"""


class Clock:
    """A settable clock."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def transport(pages: dict[str, Callable[[], httpx.Response]]) -> httpx.MockTransport:
    """Serve each host:port from a function returning the response."""

    def handler(request: httpx.Request) -> httpx.Response:
        host = f"{request.url.host}:{request.url.port}"
        if host not in pages:
            raise httpx.ConnectError("connection refused", request=request)
        return pages[host]()

    return httpx.MockTransport(handler)


def config(**extra: Any) -> ScrapeConfig:
    base: dict[str, Any] = {
        "job_name": "app",
        "scrape_interval": "15s",
        "static_configs": [{"targets": ["a:9100"], "labels": {"env": "prod"}}],
    }
    return ScrapeConfig(**{**base, **extra})


def loop_for(cfg: ScrapeConfig, clock: Clock) -> ScrapeLoop:
    targets, _ = build_targets(cfg, static_groups(cfg), compile_rules(cfg.relabel_configs))
    return ScrapeLoop(targets[0], cfg, compile_rules(cfg.metric_relabel_configs), clock)


def scrape(loop: ScrapeLoop, body: bytes | Callable[[], httpx.Response]) -> dict[Labels, float]:
    fn = body if callable(body) else (lambda: httpx.Response(200, content=body))

    async def run() -> SampleBatch:
        async with httpx.AsyncClient(transport=transport({"a:9100": fn})) as client:
            return await loop.scrape(client)

    batch = asyncio.run(run())
    return {
        batch.series[int(r)]: float(v) for r, v in zip(batch.series_ref, batch.values, strict=True)
    }


def lbl(name: str, **labels: str) -> Labels:
    return make_labels(name, labels)


TARGET = {"job": "app", "instance": "a:9100", "env": "prod"}


def test_samples_get_target_labels_and_report_series() -> None:
    clock = Clock()
    got = scrape(loop_for(config(), clock), PAGE)
    assert got[lbl("node_load1", **TARGET)] == 0.5
    # honor_labels false: the scraped `job` is kept as exported_job
    assert got[lbl("http_requests_total", code="200", exported_job="app", **TARGET)] == 10
    assert got[lbl("up", **TARGET)] == 1.0
    assert got[lbl("scrape_samples_scraped", **TARGET)] == 3
    assert got[lbl("scrape_samples_post_metric_relabeling", **TARGET)] == 3
    assert got[lbl("scrape_series_added", **TARGET)] == 3
    assert got[lbl("scrape_duration_seconds", **TARGET)] >= 0


def test_honor_labels_keeps_scraped_values() -> None:
    got = scrape(loop_for(config(honor_labels=True), Clock()), PAGE)
    assert lbl("http_requests_total", code="500", job="app", instance="a:9100", env="prod") in got


def test_metric_relabel_drops_and_counts() -> None:
    cfg = config(
        metric_relabel_configs=[
            {
                "source_labels": ["__name__", "code"],
                "regex": "http_requests_total;5..",
                "action": "drop",
            },
            {
                "source_labels": ["__name__"],
                "regex": "node_(.*)",
                "target_label": "short",
                "replacement": "$1",
            },
        ]
    )
    got = scrape(loop_for(cfg, Clock()), PAGE)
    names = {dict(s)["__name__"] for s in got}
    assert lbl("node_load1", short="load1", **TARGET) in got
    assert not any(dict(s).get("code") == "500" for s in got)
    assert got[lbl("scrape_samples_scraped", **TARGET)] == 3
    assert got[lbl("scrape_samples_post_metric_relabeling", **TARGET)] == 2
    assert "up" in names


def test_vanished_series_get_stale_markers_and_failures_mark_everything() -> None:
    clock = Clock()
    loop = loop_for(config(), clock)
    scrape(loop, PAGE)
    clock.now += 15
    second = scrape(loop, b"node_load1 0.7\n")
    gone = lbl("http_requests_total", code="200", exported_job="app", **TARGET)
    assert is_stale(np.array([second[gone]]))[0]
    assert second[lbl("scrape_series_added", **TARGET)] == 0
    clock.now += 15
    failed = scrape(loop, b"node_load1 not-a-number\n")
    assert failed[lbl("up", **TARGET)] == 0.0
    assert is_stale(np.array([failed[lbl("node_load1", **TARGET)]]))[0]
    assert "line 1" in loop.state.last_error and loop.state.health == "down"
    clock.now += 15
    again = scrape(loop, b"node_load1 0.9\n")
    assert again[lbl("node_load1", **TARGET)] == 0.9
    assert again[lbl("scrape_series_added", **TARGET)] == 1


def test_sample_limit_and_http_errors_fail_the_scrape() -> None:
    limited = loop_for(config(sample_limit=2), Clock())
    over = scrape(limited, PAGE)
    assert over[lbl("up", **TARGET)] == 0.0
    assert limited.state.last_error == "sample limit exceeded"
    # Like Prometheus: the total is still reported, `limit` samples got appended (then rolled back).
    assert over[lbl("scrape_samples_scraped", **TARGET)] > 2
    assert over[lbl("scrape_samples_post_metric_relabeling", **TARGET)] == 2
    assert {dict(s)["__name__"] for s in over} == set(REPORT_NAMES)  # none of the page
    broken = loop_for(config(), Clock())
    assert scrape(broken, lambda: httpx.Response(503))[lbl("up", **TARGET)] == 0.0
    assert broken.state.last_error == "server returned HTTP status 503 Service Unavailable"


def test_auth_params_and_openmetrics_are_used() -> None:
    seen: list[httpx.Request] = []
    cfg = config(
        params={"module": ["cpu"]},
        basic_auth={"username": "u", "password": "p"},
        metrics_path="/probe",
    )
    loop = loop_for(cfg, Clock())

    async def run() -> SampleBatch:
        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            body = b"# TYPE x counter\nx_total 3 1700000000.5\n# EOF\n"
            headers = {"content-type": "application/openmetrics-text; version=1.0.0"}
            return httpx.Response(200, content=body, headers=headers)

        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await loop.scrape(client)

    batch = asyncio.run(run())
    req = seen[0]
    assert str(req.url) == "http://a:9100/probe?module=cpu"
    assert req.headers["authorization"].startswith("Basic ")
    i = batch.series.index(lbl("x_total", **TARGET))
    assert batch.timestamps[list(batch.series_ref).index(i)] == 1_700_000_000_500  # honored


def test_relabel_configs_build_targets_and_dropped_ones() -> None:
    cfg = config(
        static_configs=[{"targets": ["a:9100", "b:9100", "c:9100"], "labels": {"dc": "x"}}],
        relabel_configs=[
            {"source_labels": ["__address__"], "regex": "c:.*", "action": "drop"},
            {"source_labels": ["__address__"], "regex": "(.*):.*", "target_label": "instance"},
            {"source_labels": ["dc"], "target_label": "__param_dc"},
        ],
    )
    targets, dropped = build_targets(cfg, static_groups(cfg), compile_rules(cfg.relabel_configs))
    assert [dict(t.labels) for t in targets] == [
        {"dc": "x", "instance": "a", "job": "app"},
        {"dc": "x", "instance": "b", "job": "app"},
    ]
    assert targets[0].url == "http://a:9100/metrics?dc=x"
    assert [dict(d)["__address__"] for d in dropped] == ["c:9100"]
    assert dict(targets[0].discovered)["__metrics_path__"] == "/metrics"


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[Storage]:
    store = open_storage(StorageSettings(path=tmp_path / "data", wal_fsync=False))
    yield store
    store.close()


def test_manager_follows_file_sd_and_marks_removed_targets_stale(
    tmp_path: Path, storage: Storage
) -> None:
    sd = tmp_path / "targets.json"
    sd.write_text(json.dumps([{"targets": ["a:9100", "b:9100"], "labels": {"team": "x"}}]))
    cfg = ScrapeConfig(job_name="fs", scrape_interval="15s", file_sd_configs=[{"files": [str(sd)]}])
    clock = Clock()
    pages = {h: (lambda: httpx.Response(200, content=b"m 1\n")) for h in ("a:9100", "b:9100")}
    manager = ScrapeManager([cfg], storage, clock, transport(pages))

    async def run() -> None:
        await manager.run_pool("fs")
        clock.now += 15
        sd.write_text(json.dumps([{"targets": ["a:9100"], "labels": {"team": "x"}}]))
        os.utime(sd, (clock.now, clock.now))  # a new mtime even within one second
        await manager.run_pool("fs")
        await manager.stop()

    asyncio.run(run())
    b_up = storage.select([eq("__name__", "up"), eq("instance", "b:9100")], 0, 2**62)[0]
    assert b_up.timestamps.tolist() == [T0 * 1000, (T0 + 15) * 1000]
    assert b_up.values[0] == 1.0 and is_stale(b_up.values[1:]).all()
    a_m = storage.select([eq("__name__", "m"), eq("instance", "a:9100")], 0, 2**62)[0]
    assert dict(a_m.labels)["team"] == "x" and dict(a_m.labels)["job"] == "fs"
    assert a_m.values[:2].tolist() == [1.0, 1.0] and is_stale(a_m.values[2:]).all()
    (active,) = manager.targets()["activeTargets"]
    assert active["labels"]["instance"] == "a:9100" and active["health"] == "up"


def test_targets_shape(storage: Storage) -> None:
    manager = ScrapeManager([config()], storage, Clock(), transport({}))
    asyncio.run(manager.run_pool("app"))
    (target,) = manager.targets()["activeTargets"]
    assert target["health"] == "down" and "connection refused" in target["lastError"]
    assert target["labels"] == TARGET and target["scrapePool"] == "app"
    assert target["scrapeUrl"] == "http://a:9100/metrics"
    assert target["discoveredLabels"]["__address__"] == "a:9100"
    assert target["lastScrape"].startswith("2023-11-14T22:13:20")
    asyncio.run(manager.stop())
