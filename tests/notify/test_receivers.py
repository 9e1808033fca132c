"""Receivers against real local servers: SMTP (aiosmtpd), Slack and webhook HTTP endpoints.

Also: retries with backoff, a failing receiver never blocks another, failures are recorded.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message as EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from openmanager.config.settings import NotifySettings
from openmanager.services.notify import NotifyService
from tests.helpers import free_port
from tests.notify.conftest import Clock, Sink, alert


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(
            (envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(envelope.content))
        )
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp() -> Iterator[tuple[int, _Mailbox]]:
    box = _Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, box
    controller.stop()


def _service(tmp_path: Path, clock: Clock, config: str, **settings: Any) -> NotifyService:
    path = tmp_path / "am.yml"
    path.write_text(config)
    return NotifyService(
        NotifySettings(config_file=path, **settings), tmp_path / "data", clock=clock
    )


def _flush(svc: NotifyService, clock: Clock, seconds: float = 31) -> None:
    clock.advance(seconds)
    svc.tick()
    assert svc.delivery.drain(30)


def test_email_over_smtp(tmp_path: Path, clock: Clock, smtp: tuple[int, _Mailbox]) -> None:
    port, box = smtp
    cfg = f"""
global:
  smtp_smarthost: 127.0.0.1:{port}
  smtp_from: alerts@openmanager.test
  smtp_require_tls: false
route:
  receiver: mail
  group_by: [alertname]
receivers:
  - name: mail
    email_configs:
      - to: 'ops@example.org, oncall@example.org'
        send_resolved: true
        headers: {{X-Team: ops}}
"""
    svc = _service(tmp_path, clock, cfg)
    try:
        svc.send(
            [
                alert(
                    clock,
                    alertname="DiskFull",
                    instance="db1",
                    annotations={"summary": "disk 95% full"},
                ),
                alert(clock, alertname="DiskFull", instance="db2"),
            ]
        )
        _flush(svc, clock)
        assert len(box.messages) == 1
        sender, rcpts, msg = box.messages[0]
        assert sender == "alerts@openmanager.test"
        assert sorted(rcpts) == ["oncall@example.org", "ops@example.org"]
        assert msg["Subject"] == "[FIRING:2] DiskFull"
        assert msg["X-Team"] == "ops"
        text = next(p for p in msg.walk() if p.get_content_type() == "text/plain").get_payload(
            decode=True
        )
        assert b"instance=db1" in text and b"disk 95% full" in text
        clock.advance(100)
        svc.send(
            [alert(clock, alertname="DiskFull", instance=i, resolved=True) for i in ("db1", "db2")]
        )
        _flush(svc, clock, 200)
        assert len(box.messages) == 2 and box.messages[1][2]["Subject"] == "[RESOLVED] DiskFull"
        assert svc.history(alertname="DiskFull")[0]["notificationsPerReceiver"] == {
            "mail": {"sent": 2, "failed": 0}
        }
    finally:
        svc.close()


def test_email_require_tls_without_starttls_fails_and_is_reported(
    tmp_path: Path, clock: Clock, smtp: tuple[int, _Mailbox]
) -> None:
    port, box = smtp
    cfg = f"""
route:
  receiver: mail
receivers:
  - name: mail
    email_configs:
      - to: ops@example.org
        from: a@example.org
        smarthost: 127.0.0.1:{port}
"""
    svc = _service(tmp_path, clock, cfg, retry_attempts=2, retry_backoff="10ms")
    try:
        svc.send([alert(clock, alertname="X")])
        _flush(svc, clock)
        assert box.messages == []
        (status,) = svc.receivers_status()
        assert status["failing"] is True
        assert "STARTTLS" in status["integrations"][0]["last_error"]
        assert status["integrations"][0]["attempts"] == 2
    finally:
        svc.close()


def test_slack_payload(tmp_path: Path, clock: Clock, sink: Sink) -> None:
    cfg = f"""
route:
  receiver: chat
  group_by: [alertname]
receivers:
  - name: chat
    slack_configs:
      - api_url: {sink.url}/services/T/B/X
        channel: '#alerts'
        username: openmanager
        text: 'severity {{{{ .CommonLabels.severity }}}}'
"""
    svc = _service(tmp_path, clock, cfg)
    try:
        svc.send([alert(clock, alertname="HighLatency", severity="page", service="api")])
        _flush(svc, clock)
        (body,) = sink.bodies
        assert sink.paths == ["/services/T/B/X"]
        assert body["channel"] == "#alerts" and body["username"] == "openmanager"
        (att,) = body["attachments"]
        assert att["title"] == "[FIRING:1] HighLatency (api page)"
        assert att["color"] == "danger" and att["text"] == "severity page"
        # Slack's send_resolved defaults to false: no resolved message.
        clock.advance(100)
        svc.send(
            [alert(clock, alertname="HighLatency", severity="page", service="api", resolved=True)]
        )
        _flush(svc, clock, 200)
        assert len(sink.bodies) == 1
    finally:
        svc.close()


def test_retry_then_success(tmp_path: Path, clock: Clock, sink: Sink) -> None:
    cfg = f"route:\n  receiver: hook\nreceivers:\n  - name: hook\n    webhook_configs: [{{url: '{sink.url}'}}]\n"
    svc = _service(tmp_path, clock, cfg, retry_attempts=4, retry_backoff="20ms")
    try:
        sink.fail_next = 2
        started = time.monotonic()
        svc.send([alert(clock, alertname="X")])
        _flush(svc, clock)
        assert len(sink.bodies) == 1
        assert time.monotonic() - started >= 0.04  # two backoffs of >= 20ms
        (status,) = svc.receivers_status()
        integ = status["integrations"][0]
        assert (integ["attempts"], integ["sent"], integ["failed"]) == (3, 1, 0)
        assert status["failing"] is False
    finally:
        svc.close()


def test_failing_receiver_does_not_block_others_and_is_retried_later(
    tmp_path: Path, clock: Clock, sink: Sink, sink2: Sink
) -> None:
    cfg = f"""
route:
  receiver: both
  group_interval: 1m
receivers:
  - name: both
    webhook_configs:
      - url: {sink.url}/broken
      - url: {sink2.url}/fine
"""
    svc = _service(tmp_path, clock, cfg, retry_attempts=3, retry_backoff="300ms")
    try:
        sink.always_fail = True
        svc.send([alert(clock, alertname="X")])
        clock.advance(31)
        svc.tick()
        deadline = time.monotonic() + 5
        while not sink2.bodies and time.monotonic() < deadline:
            time.sleep(0.01)
        # The healthy integration delivered while the broken one was still retrying.
        assert len(sink2.bodies) == 1
        assert svc.delivery.status()[0].queued == 1
        assert svc.delivery.drain(30)
        status = svc.receivers_status()[0]
        broken, fine = status["integrations"]
        assert broken["failing"] and broken["failed"] == 1 and broken["attempts"] == 3
        assert not fine["failing"] and fine["sent"] == 1
        history = svc.history(alertname="X")[0]["notifications"]
        assert sorted((n["integration"], n["status"]) for n in history) == [
            ("0", "failed"),
            ("1", "sent"),
        ]
        # Not lost: the failed notification goes out at the next group_interval once it works.
        sink.always_fail = False
        svc.send([alert(clock, alertname="X")])
        _flush(svc, clock, 60)
        assert len(sink.bodies) == 1 and len(sink2.bodies) == 1
        assert svc.receivers_status()[0]["failing"] is False
    finally:
        svc.close()


def test_client_errors_are_not_retried(tmp_path: Path, clock: Clock, sink: Sink) -> None:
    cfg = f"route:\n  receiver: hook\nreceivers:\n  - name: hook\n    webhook_configs: [{{url: '{sink.url}'}}]\n"
    svc = _service(tmp_path, clock, cfg, retry_attempts=4, retry_backoff="10ms")
    try:
        sink.always_fail, sink.fail_status = True, 400
        svc.send([alert(clock, alertname="X")])
        _flush(svc, clock)
        integ = svc.receivers_status()[0]["integrations"][0]
        assert (integ["attempts"], integ["failed"]) == (1, 1)
        assert "400" in integ["last_error"]
    finally:
        svc.close()
