"""Forwarding to a real Alertmanager: the alerts as posted, to `/api/v2/alerts`."""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from openmanager.notify.model import Alert, iso

TIMEOUT_S = 10.0


class AlertmanagerForwarder:
    """Posts alerts to an Alertmanager, which then groups and notifies by its own config."""

    kind = "alertmanager"

    def __init__(self, base_url: str, timeout_s: float = TIMEOUT_S) -> None:
        self.url = base_url.rstrip("/") + "/api/v2/alerts"
        self.timeout_s = timeout_s

    @staticmethod
    def payload(alerts: Sequence[Alert]) -> list[dict[str, object]]:
        return [
            {
                "labels": dict(a.labels),
                "annotations": dict(a.annotations),
                "startsAt": iso(a.starts_at),
                "endsAt": iso(a.ends_at),
                "generatorURL": a.generator_url,
            }
            for a in alerts
        ]

    def post(self, alerts: Sequence[Alert]) -> None:
        """Send; raises on a transport error or a non-2xx answer."""
        resp = httpx.post(self.url, json=self.payload(alerts), timeout=self.timeout_s)
        resp.raise_for_status()
