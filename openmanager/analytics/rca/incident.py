"""Incidents: related alerts and anomalies grouped into one story with a timeline and a status.

Pure data and grouping rules; `services/incidents.py` feeds events in and stores the result.
An event joins an open incident when it comes within the grouping window of the incident's
last event and touches the same server, a server related to it by the declared dependencies,
or shares the value of a grouping label (e.g. `service`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from openmanager.analytics.rca.topology import Topology
from openmanager.errors import Conflict, InvalidInput

Status = Literal["open", "acknowledged", "resolved"]
STATUSES: tuple[Status, ...] = ("open", "acknowledged", "resolved")
EntryKind = Literal[
    "anomaly", "alert_firing", "alert_resolved", "change", "recovery", "acknowledged", "resolved"
]


@dataclass(frozen=True)
class Event:
    """Something an incident is made of: an anomaly or an alert, about some servers, at a time."""

    kind: EntryKind
    at: float
    key: str
    servers: tuple[str, ...]
    text: str
    labels: Mapping[str, str] = field(default_factory=dict)
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TimelineEntry:
    """One line of an incident's timeline (times are Unix seconds)."""

    at: float
    kind: EntryKind
    text: str
    server: str = ""
    key: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "at": self.at,
            "kind": self.kind,
            "text": self.text,
            "server": self.server,
            "key": self.key,
            "data": dict(self.data),
        }


@dataclass(frozen=True)
class Incident:
    """A group of related events: servers involved, status, and the timeline in time order."""

    id: int
    title: str
    status: Status
    started_at: float
    last_event_at: float
    servers: tuple[str, ...]
    labels: Mapping[str, str] = field(default_factory=dict)
    firing: tuple[str, ...] = ()
    """Keys of alerts of this incident that are firing now."""
    acknowledged_at: float | None = None
    acknowledged_by: str = ""
    resolved_at: float | None = None
    timeline: tuple[TimelineEntry, ...] = ()

    def to_dict(self, with_timeline: bool = True) -> dict[str, Any]:
        """JSON-ready dict (the timeline only when asked)."""
        out: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "started_at": self.started_at,
            "last_event_at": self.last_event_at,
            "servers": list(self.servers),
            "labels": dict(self.labels),
            "firing": list(self.firing),
            "acknowledged_at": self.acknowledged_at,
            "acknowledged_by": self.acknowledged_by,
            "resolved_at": self.resolved_at,
            "events": len(self.timeline),
        }
        if with_timeline:
            out["timeline"] = [e.to_dict() for e in self.timeline]
        return out

    def matches(
        self, ev: Event, window_s: float, topology: Topology, group_labels: Sequence[str]
    ) -> bool:
        """Whether `ev` belongs to this (unresolved) incident."""
        if self.status == "resolved" or ev.at - self.last_event_at > window_s:
            return False
        if any(topology.related(a, b) for a in ev.servers for b in self.servers):
            return True
        return any(
            ev.labels.get(k) and ev.labels.get(k) == self.labels.get(k) for k in group_labels
        )

    def add(self, ev: Event) -> Incident:
        """This incident with `ev` on its timeline (servers, labels and firing alerts updated)."""
        servers = tuple(dict.fromkeys([*self.servers, *ev.servers]))
        labels = dict(self.labels)
        for k, v in ev.labels.items():
            labels.setdefault(k, v)
        firing = list(self.firing)
        if ev.kind == "alert_firing" and ev.key not in firing:
            firing.append(ev.key)
        if ev.kind == "alert_resolved" and ev.key in firing:
            firing.remove(ev.key)
        entry = TimelineEntry(
            ev.at, ev.kind, ev.text, ev.servers[0] if ev.servers else "", ev.key, ev.data
        )
        timeline = tuple(sorted([*self.timeline, entry], key=lambda e: e.at))
        return replace(
            self,
            servers=servers,
            labels=labels,
            firing=tuple(firing),
            last_event_at=max(self.last_event_at, ev.at),
            started_at=min(self.started_at, ev.at),
            timeline=timeline,
        )

    def acknowledge(self, at: float, by: str) -> Incident:
        """Acknowledged by `by` (Conflict once resolved)."""
        if self.status == "resolved":
            raise Conflict(f"incident {self.id} is resolved; it cannot be acknowledged")
        entry = TimelineEntry(at, "acknowledged", f"acknowledged by {by or 'someone'}")
        return replace(
            self,
            status="acknowledged",
            acknowledged_at=at,
            acknowledged_by=by,
            timeline=(*self.timeline, entry),
        )

    def resolve(self, at: float, why: str) -> Incident:
        """Resolved at `at` (idempotent: a resolved incident is returned as is)."""
        if self.status == "resolved":
            return self
        entry = TimelineEntry(at, "resolved", why)
        return replace(self, status="resolved", resolved_at=at, timeline=(*self.timeline, entry))


def new_incident(ident: int, ev: Event) -> Incident:
    """An open incident that starts with `ev`."""
    where = ", ".join(ev.servers) or "the fleet"
    base = Incident(ident, f"{ev.text} ({where})", "open", ev.at, ev.at, (), {})
    return base.add(ev)


def check_status(status: str | None) -> Status | None:
    """A status filter from user input; InvalidInput naming the valid ones otherwise."""
    if status is None or status == "":
        return None
    for s in STATUSES:
        if s == status:
            return s
    raise InvalidInput(f"unknown incident status {status!r}; use one of {', '.join(STATUSES)}")


def incident_from_dict(d: Mapping[str, Any]) -> Incident:
    """Inverse of `Incident.to_dict()` (with its timeline)."""
    timeline = tuple(
        TimelineEntry(e["at"], e["kind"], e["text"], e.get("server", ""), e.get("key", ""),
                      e.get("data", {}))
        for e in d.get("timeline", ())
    )  # fmt: skip
    return Incident(
        id=int(d["id"]),
        title=d["title"],
        status=d["status"],
        started_at=d["started_at"],
        last_event_at=d["last_event_at"],
        servers=tuple(d["servers"]),
        labels=dict(d.get("labels", {})),
        firing=tuple(d.get("firing", ())),
        acknowledged_at=d.get("acknowledged_at"),
        acknowledged_by=d.get("acknowledged_by", ""),
        resolved_at=d.get("resolved_at"),
        timeline=timeline,
    )
