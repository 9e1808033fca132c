"""What every integration gets (Alertmanager's template data) and the interface it implements."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from openmanager.notify.model import Alert


@dataclass(frozen=True)
class Message:
    """One notification for one receiver: a group's alerts and Alertmanager's template data."""

    receiver: str
    group_key: str
    group_labels: Mapping[str, str]
    alerts: Sequence[Alert]
    now: float
    external_url: str = ""

    @property
    def firing(self) -> list[Alert]:
        return [a for a in self.alerts if not a.resolved(self.now)]

    @property
    def resolved(self) -> list[Alert]:
        return [a for a in self.alerts if a.resolved(self.now)]

    @property
    def status(self) -> str:
        return "firing" if self.firing else "resolved"

    @property
    def common_labels(self) -> dict[str, str]:
        return _common([a.labels for a in self.alerts])

    @property
    def common_annotations(self) -> dict[str, str]:
        return _common([a.annotations for a in self.alerts])

    def data(self) -> dict[str, Any]:
        """The fields Alertmanager's webhook payload and templates share."""
        return {
            "receiver": self.receiver,
            "status": self.status,
            "alerts": [a.to_json(self.now) for a in self.alerts],
            "groupLabels": dict(self.group_labels),
            "commonLabels": self.common_labels,
            "commonAnnotations": self.common_annotations,
            "externalURL": self.external_url,
        }


def _common(maps: Sequence[Mapping[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    out = dict(maps[0])
    for m in maps[1:]:
        out = {k: v for k, v in out.items() if m.get(k) == v}
    return out


class Integration(Protocol):
    """One configured integration of a receiver (raises on delivery failure)."""

    kind: str
    send_resolved: bool

    def notify(self, message: Message) -> None: ...


def default_title(m: Message) -> str:
    """Alertmanager's default subject/title: `[FIRING:2] grouplabel values (common extra)`."""
    head = f"[{m.status.upper()}" + (f":{len(m.firing)}]" if m.status == "firing" else "]")
    values = " ".join(v for _, v in sorted(m.group_labels.items()))
    extra = {k: v for k, v in sorted(m.common_labels.items()) if k not in m.group_labels}
    text = f"{head} {values}"
    if extra:
        text += " (" + " ".join(extra.values()) + ")"
    return text


_FIELD = re.compile(r"\{\{-?\s*\.(\w+)(?:\.(\w+))?\s*-?\}\}")


def render(template: str, m: Message) -> str:
    """Substitute `{{ .Status }}`, `{{ .CommonLabels.x }}`, `{{ .GroupLabels.x }}`, ... .

    Only field references are supported; the full Go template language is not.
    """
    fields: dict[str, Any] = {
        "Status": m.status,
        "Receiver": m.receiver,
        "ExternalURL": m.external_url,
        "GroupLabels": dict(m.group_labels),
        "CommonLabels": m.common_labels,
        "CommonAnnotations": m.common_annotations,
    }

    def sub(match: re.Match[str]) -> str:
        value = fields.get(match.group(1), "")
        if match.group(2) is not None:
            value = value.get(match.group(2), "") if isinstance(value, dict) else ""
        return str(value)

    return _FIELD.sub(sub, template)


def summary_lines(m: Message) -> list[str]:
    """One line per alert: status, labels and summary/description annotation."""
    out = []
    for a in m.alerts:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(a.labels.items()))
        note = a.annotations.get("summary") or a.annotations.get("description") or ""
        state = "RESOLVED" if a.resolved(m.now) else "FIRING"
        out.append(f"[{state}] {labels}" + (f" - {note}" if note else ""))
    return out
