"""A real `openmanager serve` process evaluates rule files and reloads them on SIGHUP."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.serve_process import serve_process

RULES_A = """groups:
  - name: a
    interval: 1s
    rules:
      - alert: AlwaysOn
        expr: vector(1)
        labels: {severity: info}
        annotations: {summary: "value {{ $value }}"}
"""
RULES_B = RULES_A.replace("name: a", "name: b").replace("AlwaysOn", "StillOn")


def _wait(url: str, pred: Any, timeout_s: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        body: dict[str, Any] = httpx.get(url, timeout=5).json()
        if pred(body):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met; last body: {json.dumps(body)[:800]}")
        time.sleep(0.3)


@pytest.mark.slow
def test_sighup_and_http_reload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES_A)
    monkeypatch.setenv("OPENMANAGER_RULES__FILES", json.dumps([str(rules)]))
    monkeypatch.setenv("OPENMANAGER_SIMULATOR__ENABLED", "false")
    with serve_process(tmp_path / "data") as (url, proc):
        body = _wait(f"{url}/api/v1/alerts", lambda b: b["data"]["alerts"])
        (alert,) = body["data"]["alerts"]
        assert alert["labels"] == {"alertname": "AlwaysOn", "severity": "info"}
        assert alert["annotations"] == {"summary": "value 1"}
        assert alert["state"] == "firing" and alert["value"] == "1e+00"

        rules.write_text(RULES_B)
        proc.send_signal(signal.SIGHUP)
        _wait(
            f"{url}/api/v1/rules",
            lambda b: [g["name"] for g in b["data"]["groups"]] == ["b"],
        )
        assert proc.poll() is None

        rules.write_text(
            "groups:\n  - name: c\n    rules:\n      - record: bad-name\n        expr: up\n"
        )
        proc.send_signal(signal.SIGHUP)
        time.sleep(1.0)
        reply = httpx.post(f"{url}/-/reload", timeout=10)
        assert reply.status_code == 500 and "invalid recording rule name: bad-name" in reply.text
        groups = httpx.get(f"{url}/api/v1/rules", timeout=5).json()["data"]["groups"]
        assert [g["name"] for g in groups] == ["b"]
        _wait(
            f"{url}/api/v1/alerts",
            lambda b: [a["labels"]["alertname"] for a in b["data"]["alerts"]] == ["StillOn"],
        )
