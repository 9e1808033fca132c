"""The notifier's alert: a postable alert with its fingerprint, held in seconds since the epoch."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from openmanager.rules.outbound import format_time

_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_MASK = (1 << 64) - 1


class AlertLike(Protocol):
    """Anything shaped like `openmanager.rules.outbound.PostableAlert`."""

    @property
    def labels(self) -> Mapping[str, str]: ...
    @property
    def annotations(self) -> Mapping[str, str]: ...
    @property
    def starts_at(self) -> datetime: ...
    @property
    def ends_at(self) -> datetime: ...
    @property
    def generator_url(self) -> str: ...


def fingerprint(labels: Mapping[str, str]) -> str:
    """Alertmanager's label-set fingerprint: FNV-1a 64 over sorted name/value pairs, hex."""
    h = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for b in part.encode():
                h = ((h ^ b) * _FNV_PRIME) & _MASK
            h = ((h ^ 0xFF) * _FNV_PRIME) & _MASK
    return f"{h:016x}"


def iso(t: float) -> str:
    """Seconds since the epoch as RFC 3339 (Go's format)."""
    return format_time(datetime.fromtimestamp(t, UTC))


@dataclass(frozen=True)
class Alert:
    """One alert as the dispatcher keeps it; `ends_at` 0 means unknown (resolve_timeout applies)."""

    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: float
    ends_at: float
    generator_url: str
    fingerprint: str
    updated_at: float

    @classmethod
    def from_postable(cls, a: AlertLike, now: float, resolve_timeout_s: float) -> Alert:
        """Convert a posted alert; a missing end time becomes now + resolve_timeout."""
        labels = {str(k): str(v) for k, v in a.labels.items() if str(v) != ""}
        starts = a.starts_at.timestamp() if a.starts_at else now
        ends = a.ends_at.timestamp() if a.ends_at else 0.0
        if ends <= 0:
            ends = now + resolve_timeout_s
        return cls(
            labels=labels,
            annotations={str(k): str(v) for k, v in a.annotations.items()},
            starts_at=starts,
            ends_at=ends,
            generator_url=a.generator_url,
            fingerprint=fingerprint(labels),
            updated_at=now,
        )

    def resolved(self, now: float) -> bool:
        """Ended by `now`."""
        return self.ends_at <= now

    def to_json(self, now: float) -> dict[str, Any]:
        """The alert as in Alertmanager's webhook payload."""
        resolved = self.resolved(now)
        return {
            "status": "resolved" if resolved else "firing",
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "startsAt": iso(self.starts_at),
            "endsAt": iso(self.ends_at) if resolved else "0001-01-01T00:00:00Z",
            "generatorURL": self.generator_url,
            "fingerprint": self.fingerprint,
        }
