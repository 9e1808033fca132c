"""AnomalyService over a real embedded store: scores written as series, anomalies with evidence."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from openmanager.config.settings import StorageSettings
from openmanager.samples import SampleBatch, make_labels
from openmanager.services.anomaly import SCORE_METRIC, THRESHOLD, AnomalyService, Check
from openmanager.services.query import QueryService
from openmanager.tsdb.factory import open_storage
from openmanager.tsdb.storage import Storage

T0 = 1_704_067_200.0


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[Storage]:
    st = open_storage(StorageSettings(path=tmp_path / "data", wal_fsync=False))
    yield st
    st.close()


def test_spike_becomes_an_anomaly_with_evidence_and_a_score_series(storage: Storage) -> None:
    servers = ["web-01", "web-02", "db-01"]
    keys = [make_labels("node_load1", {"instance": s, "job": "node"}) for s in servers]
    rng = np.random.default_rng(0)
    now = {"t": T0}
    events: list[tuple[str, dict[str, Any]]] = []
    svc = AnomalyService(
        QueryService(storage), storage, clock=lambda: now["t"],
        publish=lambda ch, payload: events.append((ch, payload)),
        checks=(Check("load", "node_load1"),),
    )  # fmt: skip
    spike_at = 150
    for i in range(200):
        now["t"] = T0 + 15.0 * i
        vals = rng.normal(2.0, 0.1, 3)
        if spike_at <= i <= spike_at + 1:  # held two scrapes: one odd sample is not an anomaly
            vals[2] = 9.0
        batch = SampleBatch(keys, np.arange(3), np.full(3, int(now["t"] * 1000)), vals)
        storage.append(batch)
        found = svc.tick()
        if i != spike_at:
            assert all(e.series["instance"] != "db-01" or i > spike_at for e in found)
    hits = [e for e in svc.recent() if e.series["instance"] == "db-01"]
    assert hits and hits[-1].window_end == pytest.approx(T0 + 15.0 * (spike_at + 1))
    ev = hits[-1]
    assert ev.observed == pytest.approx(9.0)
    assert ev.lower < 2.0 < ev.upper and not ev.lower <= 9.0 <= ev.upper
    # seasonal has no "yesterday" yet after 50 minutes: the IQR fences carry the verdict
    assert ev.score >= THRESHOLD and ev.agreeing and set(ev.agreeing) <= {"seasonal", "iqr"}
    assert ev.promql.startswith('abs((node_load1{instance="db-01",job="node"})')
    assert ("anomalies", ev.to_dict()) in events
    # web servers stayed quiet
    assert sum(e.series["instance"] != "db-01" for e in svc.recent()) <= 1
    # the score is a series that PromQL can read (and rules can alert on)
    res = QueryService(storage).instant(
        f'{SCORE_METRIC}{{check="load",instance="db-01"}}', int((T0 + 15.0 * (spike_at + 1)) * 1000)
    )
    assert len(res.series) == 1 and float(res.series[0].values[-1]) >= THRESHOLD


def test_new_series_keep_the_state_of_known_ones(storage: Storage) -> None:
    now = {"t": T0}
    svc = AnomalyService(
        QueryService(storage), storage, clock=lambda: now["t"], checks=(Check("v", "node_load1"),)
    )
    a = make_labels("node_load1", {"instance": "a"})
    b = make_labels("node_load1", {"instance": "b"})
    for i in range(100):
        now["t"] = T0 + 15.0 * i
        keys = [a] if i < 60 else [a, b]
        vals = np.full(len(keys), 1.0 + 0.01 * (i % 3))
        storage.append(
            SampleBatch(keys, np.arange(len(keys)), np.full(len(keys), int(now["t"] * 1000)), vals)
        )
        svc.tick()
    det = svc._watches["v"].detector
    assert det.n_series == 2
    assert det.state["n_seen"][0] == 100 and det.state["n_seen"][1] == 40


def test_api_lists_anomalies_from_the_platform(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from openmanager.api.app import create_app
    from openmanager.config import load_settings
    from openmanager.services.platform import Platform

    settings = load_settings(
        None,
        {
            "profile": "test",
            "storage": {"path": str(tmp_path / "d")},
            "simulator": {"enabled": False},
        },
    )
    platform = Platform(settings, clock=lambda: T0 + 15.0 * 200)
    key = make_labels("node_load1", {"instance": "x"})
    svc = platform.anomalies
    svc.checks = (Check("load", "node_load1"),)
    with TestClient(create_app(platform)) as client:
        for i in range(120):
            t = T0 + 15.0 * i
            v = 50.0 if i in (100, 101) else 1.0 + 0.05 * np.sin(i)
            platform.storage.append(
                SampleBatch([key], np.zeros(1), np.full(1, int(t * 1000)), np.array([v]))
            )
            svc.clock = lambda t=t: t
            svc.tick()
        body = client.get("/api/v1/anomalies", params={"check": "load"}).json()
        assert body["status"] == "success" and body["data"]
        first = body["data"][-1]
        assert first["series"] == {"instance": "x"} and first["observed"] == 50.0
        assert first["window_end"] == T0 + 1515.0 and "node_load1" in first["promql"]
        later = client.get("/api/v1/anomalies", params={"since": str(T0 + 1600.0)}).json()
        assert all(e["window_end"] >= T0 + 1600.0 for e in later["data"])
        assert client.get("/api/v1/anomalies", params={"check": "nope"}).json()["data"] == []
