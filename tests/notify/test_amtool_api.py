"""The real `amtool` against OpenManager's Alertmanager API v2: silences and alert queries."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from openmanager.api.app import create_app
from openmanager.config import load_settings
from openmanager.services.platform import Platform
from tests.helpers import free_port, require_binary

pytestmark = pytest.mark.slow


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Platform]]:
    am = tmp_path / "am.yml"
    am.write_text(
        "route:\n  receiver: team\n  group_by: [alertname]\nreceivers:\n  - name: team\n"
        "inhibit_rules:\n  - source_matchers: [alertname=NodeDown]\n"
        "    target_matchers: [severity=warning]\n    equal: [instance]\n"
    )
    settings = load_settings(
        None,
        {
            "profile": "test",
            "storage": {"path": str(tmp_path / "data")},
            "simulator": {"enabled": False},
            "notify": {"config_file": str(am)},
        },
    )
    platform = Platform(settings)
    port = free_port()
    srv = uvicorn.Server(
        uvicorn.Config(create_app(platform), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", platform
    srv.should_exit = True
    thread.join(timeout=30)


def _amtool(url: str, *args: str) -> str:
    amtool = require_binary("amtool")
    proc = subprocess.run(
        [amtool, f"--alertmanager.url={url}", *args], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _post(url: str, labels: list[dict[str, str]]) -> None:
    now = datetime.now(UTC)
    body = [
        {
            "labels": x,
            "startsAt": now.isoformat(),
            "endsAt": (now + timedelta(minutes=4)).isoformat(),
        }
        for x in labels
    ]
    httpx.post(f"{url}/api/v2/alerts", json=body, timeout=10).raise_for_status()


def test_amtool_silences_and_alerts(server: tuple[str, Platform]) -> None:
    url, platform = server
    _post(
        url,
        [
            {"alertname": "Noisy", "instance": "a"},
            {"alertname": "NodeDown", "instance": "b"},
            {"alertname": "HighLoad", "instance": "b", "severity": "warning"},
            {"alertname": "HighLoad", "instance": "c", "severity": "warning"},
        ],
    )
    sid = _amtool(
        url,
        "silence",
        "add",
        "alertname=Noisy",
        "--comment=known noise",
        "--duration=2h",
        "-a",
        "me",
    ).strip()
    assert [s.id for s in platform.notify.silences()] == [sid]
    rows: list[dict[str, Any]] = json.loads(_amtool(url, "silence", "query", "-o", "json"))
    assert [r["id"] for r in rows] == [sid]
    assert rows[0]["createdBy"] == "me" and rows[0]["comment"] == "known noise"
    assert rows[0]["matchers"][0]["name"] == "alertname"
    # amtool lists active alerts: the silenced and the inhibited ones are suppressed.
    active = json.loads(_amtool(url, "alert", "query", "-o", "json"))
    names = sorted((a["labels"]["alertname"], a["labels"]["instance"]) for a in active)
    assert names == [("HighLoad", "c"), ("NodeDown", "b")]
    everything = json.loads(
        _amtool(url, "alert", "query", "-o", "json", "--silenced", "--inhibited")
    )
    states = {(a["labels"]["alertname"], a["labels"]["instance"]): a["status"] for a in everything}
    assert states[("Noisy", "a")]["silencedBy"] == [sid]
    assert states[("HighLoad", "b")]["state"] == "suppressed"
    assert len(states[("HighLoad", "b")]["inhibitedBy"]) == 1
    query = ("alert", "query", "-o", "json", "alertname=HighLoad")
    only = json.loads(_amtool(url, *query, "--inhibited"))  # only the inhibited ones
    assert [a["labels"]["instance"] for a in only] == ["b"]
    both = json.loads(_amtool(url, *query, "--inhibited", "--active"))
    assert sorted(a["labels"]["instance"] for a in both) == ["b", "c"]
    assert "inhibit_rules" in _amtool(url, "config", "show")
    _amtool(url, "silence", "expire", sid)
    assert json.loads(_amtool(url, "silence", "query", "-o", "json")) == []
    assert platform.notify.silence(sid).state(time.time()) == "expired"
