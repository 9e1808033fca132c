"""Generic webhook: Alertmanager's webhook payload, version 4."""

from __future__ import annotations

import httpx

from openmanager.notify.config import WebhookConfig
from openmanager.notify.receivers.base import Message

TIMEOUT_S = 10.0


class WebhookIntegration:
    """POSTs the group as JSON; non-2xx is a failure."""

    kind = "webhook"

    def __init__(self, cfg: WebhookConfig, timeout_s: float = TIMEOUT_S) -> None:
        self.cfg = cfg
        self.timeout_s = timeout_s
        self.send_resolved = cfg.send_resolved

    def payload(self, m: Message) -> dict[str, object]:
        data = m.data()
        alerts = data["alerts"]
        assert isinstance(alerts, list)
        truncated = 0
        if self.cfg.max_alerts and len(alerts) > self.cfg.max_alerts:
            truncated = len(alerts) - self.cfg.max_alerts
            data["alerts"] = alerts[: self.cfg.max_alerts]
        return {"version": "4", "groupKey": m.group_key, "truncatedAlerts": truncated, **data}

    def notify(self, message: Message) -> None:
        resp = httpx.post(self.cfg.url, json=self.payload(message), timeout=self.timeout_s)
        resp.raise_for_status()
