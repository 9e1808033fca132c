"""`/api/v1/rules`, `/api/v1/alerts` and `POST /-/reload` through the real app."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from openmanager.api.app import create_app
from openmanager.config import load_settings
from openmanager.services.platform import Platform

PACK = Path(__file__).parents[2] / "openmanager" / "rules" / "default_rules.yaml"


def test_rules_api_and_reload(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(PACK.read_text())
    settings = load_settings(
        None,
        {
            "profile": "test",
            "simulator": {"enabled": False},
            "storage": {"path": str(tmp_path / "data")},
            "rules": {"files": [str(rules)]},
        },
    )
    with TestClient(create_app(Platform(settings))) as client:
        body = client.get("/api/v1/rules").json()
        assert body["status"] == "success"
        names = [g["name"] for g in body["data"]["groups"]]
        assert names == ["openmanager-node", "openmanager-service"]
        alerting = client.get("/api/v1/rules", params={"type": "alert"}).json()["data"]
        kinds = {r["type"] for g in alerting["groups"] for r in g["rules"]}
        assert kinds == {"alerting"}
        assert client.get("/api/v1/alerts").json() == {
            "status": "success",
            "data": {"alerts": []},
        }
        rules.write_text("groups:\n  - name: x\n    rules:\n      - alert: A\n")
        bad = client.post("/-/reload")
        assert bad.status_code == 500 and "field 'expr' must be set" in bad.text
        still = client.get("/api/v1/rules").json()["data"]["groups"]
        assert len(still) == 2
        rules.write_text(
            "groups:\n  - name: x\n    rules:\n      - alert: A\n        expr: vector(1)\n"
        )
        assert client.post("/-/reload").status_code == 200
        assert [g["name"] for g in client.get("/api/v1/rules").json()["data"]["groups"]] == ["x"]
