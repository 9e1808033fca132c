"""A real Prometheus scrapes `openmanager serve`'s /metrics/fleet and stores every fleet series."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.peers import run_prometheus
from tests.serve_process import serve_process

SCRAPE_CONFIG = """
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: openmanager-fleet
    honor_labels: true
    metrics_path: /metrics/fleet
    static_configs:
      - targets: ["{target}"]
"""


@pytest.mark.slow
@pytest.mark.integration
def test_real_prometheus_scrapes_the_fleet(tmp_path: Path) -> None:
    with serve_process(tmp_path / "om") as (url, _proc):
        exposed = httpx.get(f"{url}/metrics/fleet").text
        n_series = sum(1 for line in exposed.splitlines() if line and not line.startswith("#"))
        target = url.removeprefix("http://")
        prom_dir = tmp_path / "prom"
        prom_dir.mkdir()
        with run_prometheus(prom_dir, SCRAPE_CONFIG.format(target=target)) as prom:
            deadline = time.monotonic() + 60
            stored, servers = 0, 0
            while time.monotonic() < deadline:
                query = 'count({__name__!="", server!="", __name__!~"up|scrape_.*"})'
                result = httpx.get(f"{prom}/api/v1/query", params={"query": query}).json()
                rows = result["data"]["result"]
                stored = int(float(rows[0]["value"][1])) if rows else 0
                if stored >= n_series:
                    by_server = httpx.get(f"{prom}/api/v1/label/server/values").json()["data"]
                    servers = len(by_server)
                    break
                time.sleep(1)
            health = httpx.get(f"{prom}/api/v1/targets").json()["data"]["activeTargets"]
    assert health and health[0]["health"] == "up", health
    assert stored == n_series
    assert servers == 20
