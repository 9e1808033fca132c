"""A real Prometheus over the simulated history sees the injected fault where the ground truth says."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from openmanager.config.settings import SimulatorSettings
from openmanager.simulate import Simulator
from openmanager.simulate.history import write_history
from tests.helpers import require_binary
from tests.peers import run_prometheus
from tests.simulate.signals import START

HOUR = 3_600_000


def _query(url: str, expr: str, at_ms: int) -> dict[str, float]:
    res = httpx.get(f"{url}/api/v1/query", params={"query": expr, "time": at_ms / 1000}, timeout=30)
    res.raise_for_status()
    return {
        r["metric"].get("server", ""): float(r["value"][1]) for r in res.json()["data"]["result"]
    }


@pytest.mark.integration
def test_prometheus_sees_the_cpu_spike_and_the_crash(tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    sim = Simulator(SimulatorSettings(servers=4, seed=3, faults=False), start_ms=START)
    spike = sim.trigger("cpu_spike", server="web-server-01", at_ms=START + HOUR)
    crash = sim.trigger("service_crash", server="db-primary-01", at_ms=START + 2 * HOUR)
    res = write_history(sim, START, START + 3 * HOUR, tmp_path / "history")
    data = tmp_path / "prometheus-data"
    run = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(res.openmetrics), str(data)],
        capture_output=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr.decode()
    busy = '1 - avg by (server) (rate(node_cpu_seconds_total{mode="idle"}[2m]))'
    with run_prometheus(tmp_path) as url:
        before = _query(url, busy, spike.start_ms - 5 * 60_000)["web-server-01"]
        during = _query(url, busy, (spike.start_ms + spike.affected[0].end_ms) // 2)[
            "web-server-01"
        ]
        assert during > before + 0.3, (before, during)
        up = 'min_over_time(openmanager_service_up{server="db-primary-01"}[1m])'
        assert crash.restart_ms is not None
        assert _query(url, up, crash.restart_ms - 1000)["db-primary-01"] == 0
        assert _query(url, up, crash.start_ms - 1000)["db-primary-01"] == 1
        resets = 'resets(http_requests_total{server="db-primary-01",status="200"}[30m])'
        assert _query(url, resets, crash.restart_ms + 5 * 60_000)["db-primary-01"] == 1
        p99 = "histogram_quantile(0.99, sum by (server, le) (rate(http_request_duration_seconds_bucket[5m])))"
        assert 0 < _query(url, p99, START + HOUR // 2)["web-server-01"] < 2.5
