"""Slack incoming webhook: one attachment with Alertmanager's default title and colour."""

from __future__ import annotations

import httpx

from openmanager.notify.config import SlackConfig
from openmanager.notify.receivers.base import Message, default_title, render

TIMEOUT_S = 10.0


class SlackIntegration:
    """POSTs Slack's incoming-webhook JSON; non-2xx is a failure."""

    kind = "slack"

    def __init__(self, cfg: SlackConfig, timeout_s: float = TIMEOUT_S) -> None:
        self.cfg = cfg
        self.timeout_s = timeout_s
        self.send_resolved = cfg.send_resolved

    def payload(self, m: Message) -> dict[str, object]:
        cfg = self.cfg
        color = (
            render(cfg.color, m) if cfg.color else ("danger" if m.status == "firing" else "good")
        )
        title = render(cfg.title, m) if cfg.title else default_title(m)
        attachment: dict[str, object] = {
            "title": title,
            "title_link": render(cfg.title_link, m) if cfg.title_link else m.external_url,
            "pretext": render(cfg.pretext, m),
            "text": render(cfg.text, m),
            "fallback": title,
            "color": color,
            "mrkdwn_in": ["fallback", "pretext", "text"],
        }
        if cfg.footer:
            attachment["footer"] = render(cfg.footer, m)
        body: dict[str, object] = {"attachments": [attachment]}
        for key in ("channel", "username", "icon_emoji", "icon_url"):
            if getattr(cfg, key):
                body[key] = getattr(cfg, key)
        return body

    def notify(self, message: Message) -> None:
        resp = httpx.post(self.cfg.api_url, json=self.payload(message), timeout=self.timeout_s)
        resp.raise_for_status()
