"""Failure-risk scores over a real embedded store: a server with a filling disk and errors
outranks a healthy one, and its reasons name those factors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from openmanager.analytics.risk.model import RiskModel
from openmanager.cli.main import app as cli_app
from openmanager.config.settings import StorageSettings
from openmanager.samples import Labels, SampleBatch, make_labels
from openmanager.services.query import QueryService
from openmanager.services.risk import RiskService
from openmanager.tsdb.factory import open_storage
from openmanager.tsdb.storage import Storage

STEP = 60_000
T0 = 1_704_067_200_000
N = 120
NOW = T0 + (N - 1) * STEP


def _write(storage: Storage) -> None:
    t = T0 + STEP * np.arange(N, dtype=np.int64)
    series: list[Labels] = []
    values: list[np.ndarray] = []

    def add(name: str, labels: dict[str, str], v: np.ndarray) -> None:
        series.append(make_labels(name, labels))
        values.append(v.astype(np.float64))

    for server, bad in (("web-01", False), ("db-01", True)):
        base = {"server": server, "job": "node"}
        size = 1e11
        avail = np.full(N, 5e10) if not bad else 1e10 - 7e7 * np.arange(N)
        fs = {**base, "mountpoint": "/data"}
        add("node_filesystem_size_bytes", fs, np.full(N, size))
        add("node_filesystem_avail_bytes", fs, avail)
        add("node_memory_MemTotal_bytes", base, np.full(N, 8e9))
        add("node_memory_MemAvailable_bytes", base, np.full(N, 4e9))
        ok = np.cumsum(np.full(N, 600.0))
        err = np.cumsum(np.full(N, 120.0 if bad else 1.0))
        add("http_requests_total", {**base, "status": "200"}, ok)
        add("http_requests_total", {**base, "status": "500"}, err)
        add("openmanager_service_up", base, np.ones(N))
    refs = np.repeat(np.arange(len(series)), N)
    storage.append(SampleBatch(series, refs, np.tile(t, len(series)), np.concatenate(values)))


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[Storage]:
    st = open_storage(StorageSettings(path=tmp_path / "data", wal_fsync=False))
    _write(st)
    yield st
    st.close()


def test_troubled_server_ranks_first_with_its_reasons(storage: Storage) -> None:
    rows = RiskService(QueryService(storage)).scores(NOW)
    assert [r.server for r in rows] == ["db-01", "web-01"]
    db, web = rows
    assert 0 <= web.score < db.score <= 1
    named = {r["factor"] for r in db.reasons}
    assert {"disk_fill_trend", "error_ratio"} <= named
    assert db.factors["disk_saturation"] > 0 and web.factors["disk_saturation"] == 0
    assert web.reasons == []


def test_model_fit_learns_which_factor_predicts_trouble() -> None:
    rng = np.random.default_rng(0)
    x = {"disk_saturation": rng.random(2000), "cpu_saturation": rng.random(2000)}
    y = rng.random(2000) < x["disk_saturation"] ** 2
    m = RiskModel(weights={"disk_saturation": 0.0, "cpu_saturation": 0.0}).fit(x, y)
    assert m.weights["disk_saturation"] > 2 and abs(m.weights["cpu_saturation"]) < 0.5


def test_cli_risk_table(tmp_path: Path) -> None:
    st = open_storage(StorageSettings(path=tmp_path / "cli", wal_fsync=False))
    _write(st)
    st.close()
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"storage:\n  path: {tmp_path / 'cli'}\n  wal_fsync: false\n")
    res = CliRunner().invoke(cli_app, ["risk", "--time", str(NOW / 1000), "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    assert "db-01" in res.output
