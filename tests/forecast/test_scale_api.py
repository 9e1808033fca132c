"""GET /api/v1/scale/recommendations over a real app and store: a busy group is told to scale
up and an idle one to scale down, with reasons, limits and bad input rejected clearly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient

from openmanager.api.app import create_app
from openmanager.samples import Labels, SampleBatch, make_labels
from openmanager.tsdb.storage import Storage
from tests.helpers import quiet_platform

STEP = 60_000
T0 = 1_704_067_200_000
N = 12 * 60
NOW = T0 + (N - 1) * STEP
GROUPS = {"web": (3, 0.9), "db": (4, 0.1)}
"""role -> (servers, busy CPU share of each)."""


def _write(storage: Storage) -> None:
    rng = np.random.default_rng(5)
    t = T0 + STEP * np.arange(N, dtype=np.int64)
    series: list[Labels] = []
    values: list[np.ndarray] = []
    for role, (count, busy) in GROUPS.items():
        for i in range(count):
            base = {"job": "node", "role": role, "server": f"{role}-{i:02d}"}
            idle_rate = np.clip(1 - busy + rng.normal(0, 0.01, N), 0, 1)
            series.append(
                make_labels("node_cpu_seconds_total", {**base, "cpu": "0", "mode": "idle"})
            )
            values.append(np.cumsum(idle_rate * STEP / 1000))
            series.append(make_labels("node_load1", base))
            values.append(np.full(N, busy))
    refs = np.repeat(np.arange(len(series)), N)
    storage.append(SampleBatch(series, refs, np.tile(t, len(series)), np.concatenate(values)))


def test_recommendations_per_group(tmp_path: Path) -> None:
    platform = quiet_platform(tmp_path / "d", clock=lambda: NOW / 1000)
    with TestClient(create_app(platform)) as client:
        assert client.get("/api/v1/scale/recommendations").status_code == 404
        _write(platform.storage)
        r = client.get("/api/v1/scale/recommendations", params={"max_step": 10, "cost": 0.5})
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        assert data["group_by"] == "role"
        rows = {x["group"]["role"]: x for x in data["result"]}
        assert set(rows) == {"web", "db"}
        web, db = rows["web"], rows["db"]
        assert web["current"] == 3 and web["action"] == "scale up" and web["target"] >= 5
        assert web["cost_change_per_hour"] == (web["target"] - 3) * 0.5
        assert db["current"] == 4 and db["action"] == "scale down" and db["target"] == 1
        assert any("forecast" in reason for reason in web["reasons"])
        capped = client.get("/api/v1/scale/recommendations", params={"max_replicas": 4})
        web_capped = {x["group"]["role"]: x for x in capped.json()["data"]["result"]}["web"]
        assert web_capped["target"] == 4
        for params in ({"target": "1.5"}, {"min_replicas": "5", "max_replicas": "2"},
                       {"group_by": "role) or vector(1"}, {"max_step": "0"}):  # fmt: skip
            bad = client.get("/api/v1/scale/recommendations", params=params)
            assert bad.status_code == 400, (params, bad.text)
            assert bad.json()["errorType"] == "bad_data"
