"""Real peer: a real Prometheus `remote_write`s into `openmanager serve`; same samples stored.

Prometheus scrapes a real node_exporter every second and forwards by remote-write to an
`openmanager serve` process. We read raw samples of a few series from Prometheus, stop it
(it flushes its queue on shutdown), stop OpenManager, reopen its store and compare: every
sample Prometheus holds up to the cut-off is stored by OpenManager, bit for bit, and the
series label sets are the same. PromQL instant queries at the cut-off, asked of Prometheus
before it stops and of OpenManager once Prometheus has flushed, answer the same.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import httpx
import pytest

from openmanager.config.settings import StorageSettings
from openmanager.samples import is_stale
from openmanager.tsdb.factory import open_storage
from openmanager.tsdb.matchers import eq
from tests.peers import run_node_exporter, run_prometheus
from tests.serve_process import serve_process

pytestmark = pytest.mark.integration

Key = tuple[tuple[str, str], ...]

SERIES = [
    'up{job="node"}',
    'node_load1{job="node"}',
    'node_memory_MemAvailable_bytes{job="node"}',
    'node_cpu_seconds_total{job="node",cpu="0",mode="idle"}',
    'scrape_samples_scraped{job="node"}',
]
QUERIES = [
    "node_load1",
    'sum by (mode) (node_cpu_seconds_total{job="node"})',
    "count(up)",
    'rate(node_cpu_seconds_total{cpu="0",mode="idle"}[5s])',
    "max(scrape_samples_scraped)",
]


def _config(exporter: str, receiver: str) -> str:
    return f"""global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ['{exporter}']
remote_write:
  - url: {receiver}/api/v1/write
    queue_config:
      batch_send_deadline: 500ms
      min_backoff: 100ms
      max_backoff: 1s
"""


def _prom_samples(
    prom: httpx.Client, selector: str, at: float
) -> dict[Key, list[tuple[int, float]]]:
    resp = prom.get("/api/v1/query", params={"query": f"{selector}[10m]", "time": f"{at:.3f}"})
    out: dict[Key, list[tuple[int, float]]] = {}
    for item in resp.json()["data"]["result"]:
        key = tuple(sorted(item["metric"].items()))
        out[key] = [(int(round(float(t) * 1000)), float(v)) for t, v in item["values"]]
    return out


def _instant(client: httpx.Client, query: str, at: float) -> dict[Key, float]:
    resp = client.get("/api/v1/query", params={"query": query, "time": f"{at:.3f}"})
    body = resp.json()
    assert body["status"] == "success", body
    return {
        tuple(sorted(r["metric"].items())): float(r["value"][1]) for r in body["data"]["result"]
    }


def test_prometheus_remote_write_delivers_every_sample(tmp_path: Path) -> None:
    data = tmp_path / "om-data"
    with serve_process(data, "--no-simulator") as (om_url, _):
        om = httpx.Client(base_url=om_url, timeout=10)
        with run_node_exporter(tmp_path) as exporter:
            config = _config(exporter.removeprefix("http://"), om_url)
            with run_prometheus(tmp_path, config) as prom_url:
                prom = httpx.Client(base_url=prom_url, timeout=10)
                deadline = time.monotonic() + 60
                while not om.get("/api/v1/series", params={"match[]": 'up{job="node"}'}).json()[
                    "data"
                ]:
                    assert time.monotonic() < deadline, "no remote-written series arrived"
                    time.sleep(0.3)
                time.sleep(5)
                cut = time.time() - 2
                expected: dict[Key, list[tuple[int, float]]] = {}
                for selector in SERIES:
                    expected.update(_prom_samples(prom, selector, cut))
                prom_series = prom.get(
                    "/api/v1/series", params={"match[]": '{job="node"}', "end": f"{cut:.3f}"}
                ).json()["data"]
                promql = {q: _instant(prom, q, cut) for q in QUERIES}
            # Prometheus has stopped and flushed its remote-write queue.
        ours_promql = {q: _instant(om, q, cut) for q in QUERIES}
        om.close()

    storage = open_storage(StorageSettings(path=data, wal_fsync=False))
    try:
        assert len(expected) == len(SERIES)
        for key, samples in expected.items():
            matchers = [eq(k, v) for k, v in key]
            (series,) = storage.select(matchers, 0, int(cut * 1000))
            keep = ~is_stale(series.values)
            got = list(
                zip(series.timestamps[keep].tolist(), series.values[keep].tolist(), strict=True)
            )
            assert len(samples) >= 3
            assert got == samples, (key, got[:5], samples[:5])
        stored = {tuple(sorted(s)) for s in storage.series([eq("job", "node")], 0, int(cut * 1000))}
        assert stored >= {tuple(sorted(s.items())) for s in prom_series}
    finally:
        storage.close()
    for q in QUERIES:
        theirs, ours = promql[q], ours_promql[q]
        assert theirs, q  # every query has an answer to compare
        assert theirs.keys() == ours.keys(), (q, theirs, ours)
        for k in theirs:
            assert math.isclose(theirs[k], ours[k], rel_tol=1e-12), (q, k, theirs[k], ours[k])
