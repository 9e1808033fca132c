"""The HTTP routes (silences, history, receivers, alert intake) and `openmanager silence`."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import typer
import uvicorn
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from openmanager.api.app import create_app
from openmanager.cli import silence_cmd
from openmanager.cli.common import console, err_console
from openmanager.config import load_settings
from openmanager.config.settings import NotifySettings
from openmanager.notify.store import SqliteNotifyStore
from openmanager.services.notify import NotifyService
from openmanager.services.platform import Platform
from tests.helpers import free_port
from tests.notify.conftest import Sink


def _platform(tmp_path: Path, notify: NotifyService) -> Platform:
    settings = load_settings(
        None,
        {
            "profile": "test",
            "storage": {"path": str(tmp_path / "data")},
            "simulator": {"enabled": False},
        },
    )
    platform = Platform(settings)
    platform.notify.close()  # replaced by the test's own service (its own config file)
    platform.notify = notify
    return platform


@pytest.fixture
def service(tmp_path: Path, sink: Sink) -> Iterator[NotifyService]:
    cfg = tmp_path / "am.yml"
    cfg.write_text(
        "route:\n  receiver: hook\n  group_wait: 0s\n"
        f"receivers:\n  - name: hook\n    webhook_configs: [{{url: '{sink.url}'}}]\n"
    )
    svc = NotifyService(NotifySettings(config_file=cfg), tmp_path / "data")
    yield svc
    svc.close()


@pytest.fixture
def client(tmp_path: Path, service: NotifyService) -> Iterator[TestClient]:
    with TestClient(create_app(_platform(tmp_path, service))) as c:
        yield c


def _iso(delta_s: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=delta_s)).isoformat().replace("+00:00", "Z")


def test_silence_lifecycle_over_http(client: TestClient) -> None:
    body = {
        "matchers": [{"name": "alertname", "value": "Noisy", "isRegex": False, "isEqual": True}],
        "startsAt": _iso(0),
        "endsAt": _iso(3600),
        "createdBy": "ops",
        "comment": "maintenance",
    }
    resp = client.post("/api/v1/silences", json=body)
    assert resp.status_code == 200, resp.text
    sid = resp.json()["data"]["silenceID"]
    got = client.get(f"/api/v1/silences/{sid}").json()["data"]
    assert got["status"]["state"] == "active" and got["createdBy"] == "ops"
    assert got["matchers"] == body["matchers"]
    assert [s["id"] for s in client.get("/api/v1/silences").json()["data"]] == [sid]
    assert client.delete(f"/api/v1/silences/{sid}").json()["data"]["status"]["state"] == "expired"
    assert client.get("/api/v1/silences/nope").status_code == 404
    bad = {**body, "matchers": [{"name": "a", "value": "", "isRegex": False}]}
    resp = client.post("/api/v1/silences", json=bad)
    assert resp.status_code == 400 and "empty string" in resp.json()["error"]


def test_alert_intake_history_and_receivers(
    client: TestClient, service: NotifyService, sink: Sink
) -> None:
    alerts = [
        {
            "labels": {"alertname": "HighCPU", "instance": "web-01"},
            "annotations": {"summary": "cpu"},
            "startsAt": _iso(-60),
            "endsAt": _iso(240),
            "generatorURL": "http://x/graph",
        }
    ]
    assert client.post("/api/v2/alerts", json=alerts).status_code == 200
    held = client.get("/api/v1/notify/alerts").json()["data"]
    assert [a["labels"]["instance"] for a in held] == ["web-01"] and held[0]["receivers"] == [
        "hook"
    ]
    service.tick()
    assert service.delivery.drain(10) and len(sink.bodies) == 1
    alerts[0]["endsAt"] = _iso(-1)
    client.post("/api/v2/alerts", json=alerts)
    (h,) = client.get("/api/v1/alerts/history", params={"alertname": "HighCPU"}).json()["data"]
    assert h["labels"] == {"alertname": "HighCPU", "instance": "web-01"}
    assert h["resolvedAt"] is not None and 55 <= h["durationSeconds"] <= 65
    assert h["notificationsPerReceiver"] == {"hook": {"sent": 1, "failed": 0}}
    assert client.get("/api/v1/alerts/history", params={"alertname": "Other"}).json()["data"] == []
    (rcv,) = client.get("/api/v1/notify/receivers").json()["data"]
    assert rcv["name"] == "hook" and rcv["integrations"][0]["sent"] == 1 and not rcv["failing"]
    assert (
        client.post(
            "/api/v2/alerts", json=[{"labels": {"a": "b"}, "startsAt": "yesterday"}]
        ).status_code
        == 400
    )
    mixed = [
        {"labels": {"alertname": "Good"}, "startsAt": _iso(-60), "endsAt": _iso(60)},
        {"labels": {"alertname": "Bad"}, "startsAt": _iso(0), "endsAt": _iso(-60)},
    ]
    resp = client.post("/api/v2/alerts", json=mixed)
    assert resp.status_code == 400 and "start time must be before end time" in resp.text
    assert "Good" in [a["labels"]["alertname"] for a in client.get("/api/v2/alerts").json()]


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(silence_cmd.app, name="silence")
    return app


@pytest.fixture(autouse=True)
def wide_console() -> Iterator[None]:
    old = console.width
    console.width = err_console.width = 250
    yield
    console.width = err_console.width = old


def _invoke(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(_cli(), list(args))
    return res.exit_code, res.output


def test_cli_local_store(tmp_path: Path) -> None:
    config = tmp_path / "openmanager.yaml"
    config.write_text(f"storage:\n  path: {tmp_path / 'data'}\n")
    code, out = _invoke(
        "silence",
        "add",
        'alertname="DiskFull"',
        "instance=~db.*",
        "-d",
        "2h",
        "--comment",
        "disk swap",
        "-c",
        str(config),
    )
    assert code == 0, out
    sid = out.strip()
    store = SqliteNotifyStore(tmp_path / "data" / "meta.db")  # the metadata store
    (s,) = store.silences()
    store.close()
    assert s.id == sid and 7190 < s.ends_at - s.starts_at <= 7200
    assert [str(m) for m in s.matchers] == ['alertname="DiskFull"', 'instance=~"db.*"']
    code, out = _invoke("silence", "list", "-c", str(config))
    assert code == 0 and sid in out and "active" in out and "disk swap" in out
    assert _invoke("silence", "expire", sid, "-c", str(config))[0] == 0
    assert sid not in _invoke("silence", "list", "-c", str(config))[1]
    assert sid in _invoke("silence", "list", "--expired", "-c", str(config))[1]
    code, out = _invoke("silence", "expire", sid, "-c", str(config))
    assert code == 1 and "already expired" in out
    code, out = _invoke("silence", "add", "not a matcher", "-c", str(config))
    assert code == 1 and "bad matcher" in out


def test_cli_against_running_server(tmp_path: Path, service: NotifyService) -> None:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(_platform(tmp_path, service)),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}"
        code, out = _invoke("silence", "add", "severity=warning", "--url", url, "--author", "me")
        assert code == 0, out
        sid = out.strip()
        assert [s.id for s in service.silences()] == [sid]
        code, out = _invoke("silence", "list", "--json", "--url", url)
        rows: list[dict[str, Any]] = json.loads(out)
        assert rows[0]["id"] == sid and rows[0]["createdBy"] == "me"
        assert _invoke("silence", "expire", sid, "--url", url)[0] == 0
        assert service.silence(sid).state(time.time()) == "expired"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
