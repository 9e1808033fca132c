"""The model registry over the API and the CLI, on a real app, store and SQLite metadata store."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from openmanager.api.app import create_app
from openmanager.cli.main import app as cli_app
from openmanager.config import load_settings
from openmanager.config.settings import StorageSettings
from openmanager.services.platform import Platform
from openmanager.tsdb.factory import open_storage
from tests.forecast.test_models import END, write_demand

WEB = 'demand{role="web"}'


def test_api_train_list_promote_rollback(tmp_path: Path) -> None:
    settings = load_settings(
        None,
        {
            "profile": "test",
            "storage": {"path": str(tmp_path / "d")},
            "simulator": {"enabled": False},
            "models": {"window": "6d", "retrain_every": "0"},
        },
    )
    platform = Platform(settings, clock=lambda: END / 1000)
    with TestClient(create_app(platform)) as client:
        write_demand(platform.storage)
        body = {"name": "web", "expr": WEB, "horizon": "6h", "season": "none"}
        r = client.post("/api/v1/models/train", json=body)
        assert r.status_code == 200, r.text
        assert r.json()["data"]["stage"] == "production"
        r = client.post("/api/v1/models/train", json={**body, "season": "daily"})
        v2 = r.json()["data"]
        assert v2["version"] == 2 and v2["stage"] == "production", v2
        listed = client.get("/api/v1/models", params={"name": "web"}).json()["data"]
        assert [(x["version"], x["stage"]) for x in listed] == [(2, "production"), (1, "archived")]
        assert all("mase" in x["metrics"] and "training_window" in x["params"] for x in listed)
        back = client.post("/api/v1/models/web/rollback").json()["data"]
        assert (back["version"], back["stage"]) == (1, "production")
        again = client.post("/api/v1/models/web/rollback")
        assert again.status_code == 409 and "no earlier production" in again.json()["error"]
        assert client.post("/api/v1/models/web/promote", params={"version": 2}).status_code == 200
        assert client.post("/api/v1/models/web/promote", params={"version": 9}).status_code == 404
        assert client.get("/api/v1/models", params={"name": "nope"}).status_code == 404
        bad = client.post("/api/v1/models/train", json={"name": "all", "expr": "demand"})
        assert bad.status_code == 400 and "2 series" in bad.json()["error"]
        bad = client.post(
            "/api/v1/models/train", json={"name": "x", "expr": WEB, "horizon": "soon"}
        )
        assert bad.status_code == 400


def test_cli_models(tmp_path: Path) -> None:
    st = open_storage(StorageSettings(path=tmp_path / "data", wal_fsync=False))
    write_demand(st)
    st.close()
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"storage:\n  path: {tmp_path / 'data'}\n  wal_fsync: false\n")
    run = CliRunner().invoke
    at = ["--time", str(END / 1000), "--window", "6d", "--horizon", "6h"]
    res = run(cli_app, ["models", "train", "web", "--expr", WEB, "--season", "none", *at,
                        "--config", str(cfg)])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "production" in res.output and "web" in res.output
    res = run(cli_app, ["models", "train", "web", "--season", "daily", "--expr", WEB, *at,
                        "--no-promote", "--json", "--config", str(cfg)])  # fmt: skip
    assert res.exit_code == 0, res.output
    [row] = json.loads(res.output)
    assert (row["version"], row["stage"]) == (2, "candidate")
    res = run(cli_app, ["models", "promote", "web", "2", "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    res = run(cli_app, ["models", "list", "web", "--json", "--config", str(cfg)])
    assert [(r["version"], r["stage"]) for r in json.loads(res.output)] == [
        (2, "production"),
        (1, "archived"),
    ]
    res = run(cli_app, ["models", "rollback", "web", "--config", str(cfg)])
    assert res.exit_code == 0 and "archived" not in res.output
    res = run(cli_app, ["models", "rollback", "web", "--config", str(cfg)])
    assert res.exit_code == 1 and "no earlier production version" in res.output
