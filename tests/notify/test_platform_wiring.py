"""End to end in one Platform: a rule file fires, the rule engine hands the alert to notify,
the routing file sends it to a webhook, and the history records it."""

from __future__ import annotations

from pathlib import Path

from openmanager.config import load_settings
from openmanager.services.alert_events import AlertEvents
from openmanager.services.platform import Platform
from tests.notify.conftest import Sink

RULES = """
groups:
  - name: demo
    interval: 1s
    rules:
      - alert: AlwaysOn
        expr: vector(42)
        labels:
          severity: page
        annotations:
          summary: "value is {{ $value }}"
"""


def test_rule_alert_reaches_webhook_through_platform(tmp_path: Path, sink: Sink) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES)
    am = tmp_path / "am.yml"
    am.write_text(
        "route:\n  receiver: hook\n  group_wait: 0s\n  group_by: [alertname]\n"
        f"receivers:\n  - name: hook\n    webhook_configs: [{{url: '{sink.url}/hook'}}]\n"
    )
    settings = load_settings(
        None,
        {
            "profile": "test",
            "storage": {"path": str(tmp_path / "data")},
            "simulator": {"enabled": False},
            "rules": {"files": [str(rules)]},
            "notify": {"config_file": str(am)},
        },
    )
    platform = Platform(settings)
    try:
        sender = platform.rules.sender  # alert changes go to the bus, then on to notify
        assert isinstance(sender, AlertEvents) and sender.inner is platform.notify
        assert platform.rules.reload().error is None
        platform.rules.tick()
        platform.notify.tick()
        assert platform.notify.delivery.drain(10)
        (body,) = sink.bodies
        (alert,) = body["alerts"]
        assert alert["labels"] == {"alertname": "AlwaysOn", "severity": "page"}
        assert alert["annotations"] == {"summary": "value is 42"}
        assert alert["status"] == "firing"
        event = platform.bus.latest("alerts")
        assert event is not None and event.payload["status"] == "firing"
        assert event.payload["labels"] == {"alertname": "AlwaysOn", "severity": "page"}
        (episode,) = platform.notify.history(alertname="AlwaysOn")
        assert episode["notificationsPerReceiver"] == {"hook": {"sent": 1, "failed": 0}}
    finally:
        platform.notify.close()
        platform.storage.close()
