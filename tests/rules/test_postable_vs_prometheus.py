"""The alerts OpenManager hands to notifiers match what a real Prometheus posts to Alertmanager."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from openmanager.promql.memstore import MemoryStorage
from openmanager.rules.group import GroupOptions
from openmanager.rules.manager import RuleManager
from openmanager.rules.outbound import PostableAlert, parse_time
from tests.helpers import free_port
from tests.peers import run_prometheus

RULES = """groups:
  - name: postable
    interval: 1s
    rules:
      - alert: Fixed
        expr: vector(3) > 1
        labels:
          severity: page
          team: '{{ "infra" | toUpper }}'
        annotations:
          summary: 'value is {{ $value }} in {{ $externalLabels.cluster }}'
          runbook: '{{ $externalURL }}/runbooks/fixed'
"""
EXTERNAL_URL = "http://prom.example:9090/"


@contextmanager
def _capture() -> Iterator[tuple[int, list[list[dict[str, Any]]]]]:
    received: list[list[dict[str, Any]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path == "/api/v2/alerts":
                received.append(json.loads(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

    port = free_port()
    server = HTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield port, received
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
def test_postable_alerts_match_prometheus(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES)
    with _capture() as (am_port, received):
        config = (
            "global:\n  evaluation_interval: 1s\n  external_labels: {cluster: eu-1}\n"
            f"rule_files: [{rules}]\n"
            "alerting:\n  alertmanagers:\n    - api_version: v2\n"
            f"      static_configs: [{{targets: ['127.0.0.1:{am_port}']}}]\n"
        )
        args = [f"--web.external-url={EXTERNAL_URL}", "--rules.alert.resend-delay=2s"]
        with run_prometheus(tmp_path, config, args):
            deadline = time.monotonic() + 60
            while not received and time.monotonic() < deadline:
                time.sleep(0.2)
    assert received, "Prometheus posted no alerts"
    (theirs,) = received[0]

    sent: list[PostableAlert] = []

    class Sender:
        def send(self, alerts: Any) -> None:
            sent.extend(alerts)

    options = GroupOptions(
        external_labels={"cluster": "eu-1"}, external_url=EXTERNAL_URL, resend_delay_ms=2000
    )
    manager = RuleManager(MemoryStorage(), [str(rules)], 60_000, options, Sender())
    assert manager.reload().error is None
    now = int(time.time() * 1000)
    manager.eval_group(manager.groups[0], now)
    (ours,) = [a.to_json() for a in sent]

    assert set(ours) == set(theirs)
    for key in ("labels", "annotations", "generatorURL"):
        assert ours[key] == theirs[key], key
    # endsAt is four resend delays after the send (Prometheus's ValidUntil); Prometheus's first
    # send may be dropped before it has discovered the Alertmanager, so its span can be longer
    our_span = (parse_time(ours["endsAt"]) - parse_time(ours["startsAt"])).total_seconds()
    their_span = (parse_time(theirs["endsAt"]) - parse_time(theirs["startsAt"])).total_seconds()
    assert our_span == 8.0
    assert 8.0 <= their_span < 20.0 and abs(their_span - round(their_span)) < 0.01
    assert len(ours["startsAt"]) == len(theirs["startsAt"])  # same time format (fraction digits)
