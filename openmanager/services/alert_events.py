"""Alert state changes on the event bus: wraps the rule engine's alert sender.

The rule engine re-sends every active alert after each evaluation; subscribers want changes.
`AlertEvents` passes every batch on to the real sender (notifications) and publishes one
`alerts` event when an alert starts firing and one when it resolves.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from openmanager.rules.outbound import AlertSender, PostableAlert

CHANNEL = "alerts"


class AlertEvents:
    """An AlertSender that publishes firing/resolved transitions, then forwards the batch."""

    def __init__(
        self,
        publish: Callable[[str, dict[str, Any]], object],
        inner: AlertSender | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.publish = publish
        self.inner = inner
        self.clock = clock
        self._firing: set[tuple[tuple[str, str], ...]] = set()
        self._lock = threading.Lock()

    def send(self, alerts: Sequence[PostableAlert]) -> None:
        now = datetime.fromtimestamp(self.clock(), UTC)
        events = []
        with self._lock:
            for alert in alerts:
                key = tuple(sorted(alert.labels.items()))
                resolved = alert.resolved(now)
                if resolved and key in self._firing:
                    self._firing.discard(key)
                    events.append(_payload(alert, "resolved"))
                elif not resolved and key not in self._firing:
                    self._firing.add(key)
                    events.append(_payload(alert, "firing"))
        for event in events:
            self.publish(CHANNEL, event)
        if self.inner is not None:
            self.inner.send(alerts)


def _payload(alert: PostableAlert, status: str) -> dict[str, Any]:
    labels = dict(alert.labels)
    out: dict[str, Any] = {
        "status": status,
        "alertname": labels.get("alertname", ""),
        "labels": labels,
        "annotations": dict(alert.annotations),
        "startsAt": alert.starts_at.isoformat(),
        "endsAt": alert.ends_at.isoformat(),
    }
    if "server" in labels:
        out["server"] = labels["server"]
    return out
