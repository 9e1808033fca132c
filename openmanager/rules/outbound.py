"""What the rule engine hands to notifiers: Alertmanager v2 "postable alerts", as Prometheus sends them.

`openmanager.notify` (or any other consumer) implements `AlertSender`; the rules service calls
`send` after every group evaluation with the alerts Prometheus would post to Alertmanager.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def format_time(t: datetime) -> str:
    """Go's RFC3339Nano (what Prometheus's JSON encoder writes): UTC, trailing zeros trimmed."""
    t = t.astimezone(UTC)
    base = t.strftime("%Y-%m-%dT%H:%M:%S")
    frac = f"{t.microsecond:06d}".rstrip("0")
    return f"{base}.{frac}Z" if frac else f"{base}Z"


def format_time_millis(t: datetime) -> str:
    """Alertmanager API v2's date-time (go-openapi strfmt): UTC, always three fraction digits."""
    t = t.astimezone(UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def parse_time(text: str) -> datetime:
    """Parse an RFC3339 timestamp (any fraction length, Z or offset) into an aware datetime."""
    s = text.strip().replace("z", "Z")
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    if "." in s:
        head, rest = s.split(".", 1)
        digits = len(rest) - len(rest.lstrip("0123456789"))
        frac, tail = rest[:digits], rest[digits:]
        s = f"{head}.{(frac + '000000')[:6]}{tail}"
    return datetime.fromisoformat(s)


def ms_to_datetime(ms: int) -> datetime:
    """A Unix time in milliseconds as an aware UTC datetime."""
    return _EPOCH + timedelta(milliseconds=ms)


@dataclass(frozen=True)
class PostableAlert:
    """One alert as Prometheus posts it to Alertmanager's `/api/v2/alerts`.

    `ends_at` is in the future while the alert fires (Prometheus sets it to four resend
    intervals ahead) and the resolve time once it has resolved.
    """

    labels: Mapping[str, str]
    annotations: Mapping[str, str] = field(default_factory=dict)
    starts_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    ends_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    generator_url: str = ""

    @property
    def alertname(self) -> str:
        return self.labels.get("alertname", "")

    def resolved(self, now: datetime | None = None) -> bool:
        """Whether the alert has ended by `now` (default: the current time)."""
        return self.ends_at <= (now if now is not None else datetime.now(UTC))

    def to_json(self) -> dict[str, Any]:
        """The JSON object Prometheus posts to `/api/v2/alerts` (keys and time format as on the wire)."""
        return {
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "startsAt": format_time_millis(self.starts_at),
            "endsAt": format_time_millis(self.ends_at),
            "generatorURL": self.generator_url,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> PostableAlert:
        """Inverse of `to_json` (accepts what Alertmanager's API accepts; missing times = now)."""
        now = datetime.now(UTC)
        return cls(
            labels={str(k): str(v) for k, v in dict(obj.get("labels") or {}).items()},
            annotations={str(k): str(v) for k, v in dict(obj.get("annotations") or {}).items()},
            starts_at=parse_time(obj["startsAt"]) if obj.get("startsAt") else now,
            ends_at=parse_time(obj["endsAt"]) if obj.get("endsAt") else now,
            generator_url=str(obj.get("generatorURL") or ""),
        )


class AlertSender(Protocol):
    """Receives the alerts of each rule group evaluation (firing ones and newly resolved ones)."""

    def send(self, alerts: Sequence[PostableAlert]) -> None: ...
