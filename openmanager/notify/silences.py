"""Silences: matchers muting alerts between a start and an end; expiring ends one now."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from openmanager.errors import InvalidInput, NotFound
from openmanager.notify.matchers import Matcher, MatcherError, from_json, matches_all
from openmanager.notify.model import iso


@dataclass(frozen=True)
class Silence:
    """One silence; state follows the clock (pending, active, expired)."""

    id: str
    matchers: tuple[Matcher, ...]
    starts_at: float
    ends_at: float
    created_by: str
    comment: str
    updated_at: float

    def state(self, now: float) -> str:
        """`pending` before it starts, `active` while it runs, `expired` after."""
        if now < self.starts_at:
            return "pending"
        return "active" if now < self.ends_at else "expired"

    def mutes(self, labels: Mapping[str, str], now: float) -> bool:
        """Whether this silence mutes an alert with these labels at `now`."""
        return self.state(now) == "active" and matches_all(self.matchers, labels)

    def to_json(self, now: float) -> dict[str, Any]:
        """Alertmanager API v2 `gettableSilence` shape."""
        return {
            "id": self.id,
            "matchers": [m.to_json() for m in self.matchers],
            "startsAt": iso(self.starts_at),
            "endsAt": iso(self.ends_at),
            "updatedAt": iso(self.updated_at),
            "createdBy": self.created_by,
            "comment": self.comment,
            "status": {"state": self.state(now)},
        }


def new_silence(
    matchers: Sequence[Matcher],
    starts_at: float,
    ends_at: float,
    created_by: str,
    comment: str,
    now: float,
) -> Silence:
    """A validated new silence (at least one matcher that does not match the empty string)."""
    if not matchers:
        raise InvalidInput("a silence needs at least one matcher")
    if all(m.matches({}) for m in matchers):
        raise InvalidInput("at least one matcher must not match the empty string")
    if ends_at <= starts_at:
        raise InvalidInput("a silence must end after it starts")
    if ends_at <= now:
        raise InvalidInput("a silence must end in the future")
    return Silence(
        id=str(uuid.uuid4()),
        matchers=tuple(matchers),
        starts_at=starts_at,
        ends_at=ends_at,
        created_by=created_by,
        comment=comment,
        updated_at=now,
    )


def expired(s: Silence, now: float) -> Silence:
    """The silence ended now (a pending one ends before it starts); expired ones raise."""
    if s.state(now) == "expired":
        raise InvalidInput(f"silence {s.id} is already expired")
    start = min(s.starts_at, now)
    return replace(s, starts_at=start, ends_at=now, updated_at=now)


def matchers_from_json(items: Any) -> list[Matcher]:
    """API v2 matcher objects to Matchers (InvalidInput on bad ones)."""
    if not isinstance(items, list):
        raise InvalidInput("matchers must be a list")
    try:
        return [from_json(x) for x in items]
    except (MatcherError, AttributeError) as exc:
        raise InvalidInput(f"invalid matcher: {exc}") from None


def find(silences: Sequence[Silence], silence_id: str) -> Silence:
    """The silence with this id, or NotFound."""
    for s in silences:
        if s.id == silence_id:
            return s
    raise NotFound(f"no silence with id {silence_id}")
