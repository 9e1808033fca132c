"""Forecast service, API and CLI over a real embedded store holding a filling disk."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from openmanager.api.app import create_app
from openmanager.cli.main import app as cli_app
from openmanager.config.settings import StorageSettings
from openmanager.samples import SampleBatch, make_labels
from openmanager.services.forecast import EXHAUSTION_METRIC, ForecastService
from openmanager.services.query import QueryService
from openmanager.tsdb.factory import open_storage
from openmanager.tsdb.storage import Storage
from tests.helpers import quiet_platform

STEP = 300_000
T0 = 1_704_067_200_000
N = 3 * 288  # three days at 5 minutes
NOW = T0 + (N - 1) * STEP
PER_STEP = 2.5e7
BASE = {"job": "node", "server": "db-primary-01", "instance": "db-primary-01:9100"}


def _fill(storage: Storage) -> float:
    """A /data filesystem losing 25 MB per 5 min (with noise), a counter that resets; returns
    the expected seconds until /data is full."""
    rng = np.random.default_rng(11)
    t = T0 + STEP * np.arange(N, dtype=np.int64)
    disk = 3e10 - PER_STEP * np.arange(N) + rng.normal(0, 3e8, N)
    counter = np.cumsum(np.full(N, 5.0))
    counter[400:] -= counter[399]
    series = [
        make_labels("node_filesystem_avail_bytes", {**BASE, "mountpoint": "/data"}),
        make_labels("node_memory_MemAvailable_bytes", BASE),
        make_labels("node_network_receive_bytes_total", BASE),
    ]
    values = [disk, np.full(N, 4e9), counter]
    refs = np.repeat(np.arange(3), N)
    storage.append(SampleBatch(series, refs, np.tile(t, 3), np.concatenate(values)))
    return (3e10 - PER_STEP * (N - 1)) / PER_STEP * STEP / 1000


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[Storage]:
    st = open_storage(StorageSettings(path=tmp_path / "data", wal_fsync=False))
    yield st
    st.close()


def test_service_forecasts_each_series_and_explains_failures(storage: Storage) -> None:
    expected = _fill(storage)
    svc = ForecastService(QueryService(storage), clock=lambda: NOW / 1000)
    [disk] = svc.forecast("node_filesystem_avail_bytes", 2 * 86_400_000, threshold=0.0)
    assert disk.forecast is not None and disk.exhaustion is not None
    assert disk.exhaustion.seconds == pytest.approx(expected, rel=0.1)
    summary = disk.to_dict()["exhaustion"]["summary"]
    assert summary.startswith("/data on db-primary-01: reaches 0 in") and "80% interval" in summary
    [counter] = svc.forecast("node_network_receive_bytes_total", 3_600_000)
    assert counter.forecast is None and counter.error is not None and "rate(" in counter.error
    [mem] = svc.forecast("node_memory_MemAvailable_bytes", 3_600_000)
    assert mem.forecast is not None and mem.forecast.model == "constant"


def test_exhaustion_job_writes_series_rules_can_alert_on(storage: Storage) -> None:
    expected = _fill(storage)
    svc = ForecastService(QueryService(storage), storage, clock=lambda: NOW / 1000)
    svc.write_exhaustion()
    q = QueryService(storage)
    res = q.instant(f'{EXHAUSTION_METRIC}{{resource="disk",bound="estimate"}}', NOW)
    [row] = res.series
    assert dict(row.labels)["mountpoint"] == "/data"
    assert float(row.values[0]) == pytest.approx(expected, rel=0.1)
    mem = q.instant(f'{EXHAUSTION_METRIC}{{resource="memory"}}', NOW)
    assert len(mem.series) == 3 and all(np.isinf(s.values[0]) for s in mem.series)
    alert = q.instant(f"{EXHAUSTION_METRIC} < 86400 * 7", NOW)
    assert {dict(s.labels)["resource"] for s in alert.series} == {"disk"}


def test_exhaustion_job_publishes_what_runs_out(storage: Storage) -> None:
    expected = _fill(storage)
    published: list[tuple[str, dict[str, Any]]] = []
    svc = ForecastService(
        QueryService(storage), storage, lambda: NOW / 1000, lambda c, p: published.append((c, p))
    )
    svc.write_exhaustion()
    [(channel, payload)] = published
    assert channel == "forecasts" and payload["time_ms"] == NOW
    [disk] = payload["exhaustion"]  # memory is flat: it does not run out, so it is not listed
    assert disk["metric"]["mountpoint"] == "/data" and "forecast" not in disk
    assert disk["exhaustion"]["seconds"] == pytest.approx(expected, rel=0.1)


def test_api_forecast_and_errors(tmp_path: Path) -> None:
    platform = quiet_platform(tmp_path / "d", clock=lambda: NOW / 1000)
    with TestClient(create_app(platform)) as client:
        expected = _fill(platform.storage)
        r = client.get(
            "/api/v1/forecast",
            params={"query": "node_filesystem_avail_bytes", "horizon": "2d", "threshold": "0"},
        )
        assert r.status_code == 200, r.text
        [item] = r.json()["data"]["result"]
        assert item["metric"]["mountpoint"] == "/data"
        assert item["exhaustion"]["seconds"] == pytest.approx(expected, rel=0.1)
        assert len(item["forecast"]["points"]) == 172_800 // item["forecast"]["step_seconds"]
        bad = client.get("/api/v1/forecast", params={"query": "node_load1", "horizon": "8d"})
        assert bad.status_code == 400 and bad.json()["errorType"] == "bad_data"
        none = client.get("/api/v1/forecast", params={"query": "nope", "horizon": "1h"})
        assert none.status_code == 404
        dec = client.get(
            "/api/v1/forecast/decompose", params={"query": "node_filesystem_avail_bytes"}
        )
        [part] = dec.json()["data"]["result"]
        assert len(part["trend"]) == len(part["observed"]) > 500


def test_cli_prints_a_table_and_json(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"storage:\n  path: {tmp_path / 'data'}\n  wal_fsync: false\n")
    st = open_storage(StorageSettings(path=tmp_path / "data", wal_fsync=False))
    _fill(st)
    st.close()
    args = ["forecast", "node_filesystem_avail_bytes", "--horizon", "2d", "--config", str(cfg)]
    res = CliRunner().invoke(
        cli_app, [*args, "--threshold", "0", "--json", "--time", str(NOW / 1000)]
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["result"][0]["exhaustion"]["summary"].startswith("/data on db-primary-01: reaches")
    res = CliRunner().invoke(cli_app, [*args, "--threshold", "0", "--time", str(NOW / 1000)])
    assert res.exit_code == 0 and "forecast, 2d ahead" in res.output and "linear" in res.output
    res = CliRunner().invoke(cli_app, ["forecast", "x", "--horizon", "9d", "--config", str(cfg)])
    assert res.exit_code == 1
