"""Events the embedding API subscribes to: alert transitions (not every re-send) and event names."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from openmanager.rules.outbound import PostableAlert
from openmanager.services.alert_events import AlertEvents
from openmanager.services.bus import CHANNELS, EVENTS

NOW = datetime(2026, 1, 1, tzinfo=UTC)


class Inner:
    def __init__(self) -> None:
        self.batches: list[int] = []

    def send(self, alerts: Sequence[PostableAlert]) -> None:
        self.batches.append(len(alerts))


def test_alert_events_publish_transitions_once_and_forward_everything() -> None:
    published: list[tuple[str, dict[str, Any]]] = []
    inner = Inner()
    clock = [NOW.timestamp()]
    events = AlertEvents(lambda c, p: published.append((c, p)), inner, lambda: clock[0])
    labels = {"alertname": "Down", "server": "web-01"}
    firing = PostableAlert(labels, {"summary": "x"}, NOW, NOW + timedelta(minutes=4))
    for _ in range(3):  # the rule engine re-sends active alerts every evaluation
        events.send([firing])
    clock[0] += 120
    resolved = PostableAlert(labels, {}, NOW, NOW + timedelta(minutes=1))
    events.send([resolved])
    events.send([resolved])
    assert inner.batches == [1, 1, 1, 1, 1]
    assert [(c, p["status"]) for c, p in published] == [
        ("alerts", "firing"),
        ("alerts", "resolved"),
    ]
    assert published[0][1]["server"] == "web-01" and published[0][1]["annotations"] == {
        "summary": "x"
    }


def test_every_event_name_maps_to_a_known_channel() -> None:
    assert {"anomaly_detected", "alert", "incident", "forecast"} <= set(EVENTS)
    assert all(kind.channel in CHANNELS for kind in EVENTS.values())
    assert EVENTS["alert_firing"].matches({"status": "firing"})
    assert not EVENTS["alert_firing"].matches({"status": "resolved"})
