"""Email over SMTP: STARTTLS when required, optional AUTH, plain-text and HTML parts."""

from __future__ import annotations

import html
import smtplib
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid

from openmanager.notify.config import EmailConfig
from openmanager.notify.receivers.base import Message, default_title, render, summary_lines

TIMEOUT_S = 15.0


class EmailIntegration:
    """Sends one mail per notification to the configured addresses."""

    kind = "email"

    def __init__(self, cfg: EmailConfig, timeout_s: float = TIMEOUT_S) -> None:
        self.cfg = cfg
        self.timeout_s = timeout_s
        self.send_resolved = cfg.send_resolved

    def build(self, m: Message) -> EmailMessage:
        cfg = self.cfg
        msg = EmailMessage()
        headers = {k.title(): render(v, m) for k, v in cfg.headers.items()}
        msg["Subject"] = headers.pop("Subject", default_title(m))
        msg["From"] = headers.pop("From", cfg.from_)
        msg["To"] = headers.pop("To", cfg.to)
        msg["Date"] = formatdate(m.now)
        msg["Message-Id"] = make_msgid()
        for k, v in headers.items():
            msg[k] = v
        lines = summary_lines(m)
        text = render(cfg.text, m) if cfg.text else "\n".join(lines) + "\n"
        msg.set_content(text)
        body = (
            render(cfg.html, m)
            if cfg.html
            else (
                "<html><body><ul>"
                + "".join(f"<li>{html.escape(x)}</li>" for x in lines)
                + "</ul></body></html>"
            )
        )
        msg.add_alternative(body, subtype="html")
        return msg

    def notify(self, message: Message) -> None:
        cfg = self.cfg
        host, port = cfg.smarthost
        msg = self.build(message)
        if port == 465:
            client: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=self.timeout_s)
        else:
            client = smtplib.SMTP(host, port, local_hostname=cfg.hello, timeout=self.timeout_s)
        with client:
            if port != 465:
                client.ehlo(cfg.hello)
                if client.has_extn("starttls"):
                    client.starttls()
                    client.ehlo(cfg.hello)
                elif cfg.require_tls:
                    raise smtplib.SMTPException(
                        f"'require_tls' is true but {host}:{port} does not advertise STARTTLS"
                    )
            if cfg.auth_username:
                client.login(cfg.auth_username, cfg.auth_password)
            client.send_message(msg, from_addr=cfg.from_, to_addrs=_addresses(cfg.to))


def _addresses(text: str) -> list[str]:
    return [addr for _, addr in getaddresses([text]) if addr]
