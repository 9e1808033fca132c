"""Anomaly detectors as versioned models: trained and validated against labelled faults (F1 on
the last third of the window), promoted when better, rolled back, and the anomaly service runs the
version in production; through the service (SQLite and PostgreSQL), the API and the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from openmanager.analytics.models import DetectorSpec, Labelled, train_detector
from openmanager.api.app import create_app
from openmanager.cli.main import app as cli_app
from openmanager.config import load_settings
from openmanager.config.settings import StorageSettings
from openmanager.errors import InvalidInput, NotFound
from openmanager.meta import MetaDB
from openmanager.samples import SampleBatch, make_labels
from openmanager.services.anomaly import AnomalyService
from openmanager.services.models import ModelService, check_spec
from openmanager.services.platform import Platform
from openmanager.services.query import QueryService
from openmanager.simulate.faults import FaultRecord, GroundTruth
from openmanager.tsdb.factory import open_storage
from openmanager.tsdb.storage import Storage

STEP = 60_000
T0 = 1_704_067_200_000
N = 36 * 60
END = T0 + (N - 1) * STEP
WINDOW = "36h"


def write_busy(storage: Storage) -> list[FaultRecord]:
    """36 h of `cpu_busy` on four servers with six labelled level bursts each."""
    rng = np.random.default_rng(5)
    t = T0 + STEP * np.arange(N, dtype=np.int64)
    faults, vals, labels = [], [], []
    for k in range(4):
        v = 50 + 5 * np.sin(np.arange(N) / 1440 * 2 * np.pi) + rng.normal(0, 1, N)
        for j in range(6):
            s, d = int(rng.integers(60, N - 40)), int(rng.integers(10, 30))
            v[s : s + d] += rng.uniform(6, 15)
            faults.append(
                FaultRecord(
                    f"f{k}{j}", "cpu_spike", f"srv-{k}", "cpu", int(t[s]), int(t[s + d]), ()
                )
            )
        labels.append(make_labels("cpu_busy", {"instance": f"srv-{k}:9100"}))
        vals.append(v)
    storage.append(
        SampleBatch(labels, np.repeat(np.arange(4), N), np.tile(t, 4), np.concatenate(vals))
    )
    return faults


def truth_of(faults: list[FaultRecord]):  # type: ignore[no-untyped-def]
    return lambda a, b: [f for f in faults if f.start_ms <= b and f.end_ms > a]


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[Storage]:
    st = open_storage(StorageSettings(path=tmp_path / "data", wal_fsync=False))
    yield st
    st.close()


def test_train_promote_reject_rollback_and_the_service_runs_production(
    meta: MetaDB, storage: Storage
) -> None:
    faults = write_busy(storage)
    queries = QueryService(storage)
    svc = ModelService(
        meta, queries, clock=lambda: END / 1000, window_ms=36 * 3_600_000, truth=truth_of(faults)
    )
    v1 = svc.train("busy", check_spec("busy", "cpu_busy", "seasonal"))
    assert (v1["kind"], v1["stage"], v1["params"]["detector"]) == (
        "detector",
        "production",
        "seasonal",
    )
    m1 = v1["metrics"]
    assert m1["faults"] > 0 and 0 <= m1["f1"] <= 1 and "f1_tuning" in m1
    win = v1["params"]["training_window"]
    assert win["end"] - win["start"] == 36 * 3600
    assert win["start"] < win["tuned_from"] < win["validated_from"] < win["end"]

    v2 = svc.train("busy", check_spec("busy", "cpu_busy", "robust_z"))
    cmp = v2["metrics"]["compared"]
    assert cmp["production_version"] == 1 and cmp["production_f1_same_window"] == m1["f1"]
    assert v2["stage"] == "production" and v2["metrics"]["f1"] > m1["f1"]
    v3 = svc.train("busy")  # production's own spec again on the same window: not better
    assert v3["stage"] == "rejected" and v3["params"]["detector"] == "robust_z"

    anomalies = AnomalyService(
        queries, storage, clock=lambda: END / 1000, promoted=svc.production_detectors
    )
    [busy] = [a for a in anomalies.active() if a.check.name == "busy"]
    assert (busy.model_version, busy.check.detector) == (2, "robust_z")
    assert busy.threshold == v2["params"]["threshold"]
    assert {a.check.name for a in anomalies.active()} >= {"cpu", "memory_used", "busy"}
    anomalies.tick()  # scores the promoted check's four series
    got = queries.instant('openmanager_anomaly_score{check="busy"}', END)
    assert len(got.series) == 4

    assert svc.rollback("busy")["version"] == 1
    later = AnomalyService(
        queries, storage, clock=lambda: END / 1000, promoted=svc.production_detectors
    )
    assert [a.check.detector for a in later.active() if a.check.name == "busy"] == ["seasonal"]


def test_detector_training_errors_are_specific(meta: MetaDB, storage: Storage) -> None:
    write_busy(storage)
    svc = ModelService(meta, QueryService(storage), clock=lambda: END / 1000)
    with pytest.raises(InvalidInput, match="needs labelled faults"):
        svc.train("busy", check_spec("busy", "cpu_busy"))
    svc.truth = lambda a, b: []
    with pytest.raises(InvalidInput, match="no labelled fault"):
        svc.train("busy", check_spec("busy", "cpu_busy"))
    with pytest.raises(NotFound, match="no anomaly check named"):
        check_spec("nope")
    with pytest.raises(NotFound, match="unknown detector"):
        svc.train("busy", check_spec("busy", "cpu_busy", "magic"))
    assert check_spec("cpu").detector == "server_ensemble"


def test_api_detector_models(tmp_path: Path) -> None:
    settings = load_settings(
        None,
        {
            "profile": "test",
            "storage": {"path": str(tmp_path / "d")},
            "simulator": {"enabled": False},
            "models": {"window": WINDOW, "retrain_every": "0"},
        },
    )
    platform = Platform(settings, clock=lambda: END / 1000)
    with TestClient(create_app(platform)) as client:
        platform.models.truth = truth_of(write_busy(platform.storage))
        body = {"name": "busy", "kind": "detector", "expr": "cpu_busy", "detector": "seasonal"}
        r = client.post("/api/v1/models/train", json=body)
        assert r.status_code == 200, r.text
        v1 = r.json()["data"]
        assert (v1["kind"], v1["stage"]) == ("detector", "production")
        r = client.post("/api/v1/models/train", json={**body, "detector": "robust_z"})
        assert r.json()["data"]["stage"] == "production"
        listed = client.get("/api/v1/models", params={"kind": "detector"}).json()["data"]
        assert [(x["version"], x["stage"]) for x in listed] == [(2, "production"), (1, "archived")]
        assert client.get("/api/v1/models", params={"kind": "forecaster"}).json()["data"] == []
        active = client.get("/api/v1/models/detectors/active").json()["data"]
        [busy] = [a for a in active if a["name"] == "busy"]
        assert (busy["detector"], busy["model_version"]) == ("robust_z", 2)
        assert client.post("/api/v1/models/busy/rollback").json()["data"]["version"] == 1
        bad = client.post("/api/v1/models/train", json={"name": "x", "kind": "magic"})
        assert bad.status_code == 400 and "kind must be" in bad.json()["error"]
        bad = client.post("/api/v1/models/train", json={"name": "nope", "kind": "detector"})
        assert bad.status_code == 404 and "no anomaly check" in bad.json()["error"]


def test_cli_detector_models_with_ground_truth_file(tmp_path: Path) -> None:
    st = open_storage(StorageSettings(path=tmp_path / "data", wal_fsync=False))
    faults = write_busy(st)
    st.close()
    gt = tmp_path / "ground_truth.json"
    gt.write_text(GroundTruth(1, T0, END, tuple(faults)).to_json())
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"storage:\n  path: {tmp_path / 'data'}\n  wal_fsync: false\n")
    run = CliRunner().invoke
    args = ["--kind", "detector", "--expr", "cpu_busy", "--time", str(END / 1000), "--window",
            WINDOW, "--config", str(cfg)]  # fmt: skip
    res = run(cli_app, ["models", "train", "busy", *args, "--truth", str(gt), "--json"])
    assert res.exit_code == 0, res.output
    [row] = json.loads(res.output)
    assert (row["kind"], row["stage"], row["version"]) == ("detector", "production", 1)
    res = run(cli_app, ["models", "train", "busy", *args])
    assert res.exit_code == 1 and "needs labelled faults" in res.output
    res = run(cli_app, ["models", "list", "--config", str(cfg)])
    assert res.exit_code == 0 and "detector" in res.output and "F1" in res.output


def test_without_faults_to_tune_on_the_defaults_are_kept() -> None:
    rng = np.random.default_rng(2)
    t = np.arange(3000) * 60.0
    v = 10 + rng.normal(0, 1, (2, 3000))
    v[0, 2500:2520] += 12
    data = Labelled(v, t, ["a", "b"], {"a": [(t[2500], t[2520])]})  # fault in the last third only
    m = train_detector(data, DetectorSpec("x", "x", "server_ensemble", threshold=0.65))
    assert m.metrics["f1_tuning"] == 0.0 and m.metrics["faults"] == 1
    assert m.params["threshold"] == 0.65 and m.params["settings"] == {"persist": 2}
