"""GET /api/v1/risk over a real app and embedded store: ranked servers with their reasons."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from openmanager.api.app import create_app
from tests.forecast.test_risk import NOW, _write
from tests.helpers import quiet_platform


def test_risk_endpoint_ranks_servers_and_explains(tmp_path: Path) -> None:
    platform = quiet_platform(tmp_path / "d", clock=lambda: NOW / 1000)
    with TestClient(create_app(platform)) as client:
        empty = client.get("/api/v1/risk")
        assert empty.status_code == 404 and "nothing to score" in empty.json()["error"]
        _write(platform.storage)
        r = client.get("/api/v1/risk")
        assert r.status_code == 200, r.text
        rows = r.json()["data"]["result"]
        assert [x["server"] for x in rows] == ["db-01", "web-01"]
        assert 0 <= rows[1]["score"] < rows[0]["score"] <= 1
        assert {"disk_fill_trend", "error_ratio"} <= {x["factor"] for x in rows[0]["reasons"]}
        top = client.get("/api/v1/risk", params={"limit": 1, "time": str(NOW / 1000)})
        assert [x["server"] for x in top.json()["data"]["result"]] == ["db-01"]
        bad = client.get("/api/v1/risk", params={"time": "yesterday"})
        assert bad.status_code == 400 and bad.json()["errorType"] == "bad_data"
