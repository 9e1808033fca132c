"""Incidents from live alerts and anomalies: grouping, timeline, status, and ranked causes.

Anomalies and alerts arrive as the payloads published on the `anomalies` and `alerts`
channels (`AnomalyService`, `AlertEvents`). A scheduler job adds related changes (process restarts) to open incidents and
resolves incidents that have gone quiet. Causes are ranked on demand by `analytics.rca`.
"""

from __future__ import annotations

import builtins
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from openmanager.analytics.rca import Cause, RangeQueries, Topology, rank_causes
from openmanager.analytics.rca.incident import (
    EntryKind,
    Event,
    Incident,
    Status,
    check_status,
    new_incident,
)
from openmanager.analytics.rca.observe import server_selector
from openmanager.config.settings import IncidentSettings
from openmanager.meta.db import MetaDB, own_or_shared
from openmanager.services.incident_store import IncidentStore, MetaIncidentStore
from openmanager.units import parse_duration

log = logging.getLogger(__name__)

TICK_INTERVAL_S = 15.0
CHANNEL = "incidents"
RESTART_METRICS = (
    ("process_start_time_seconds", "process (re)started"),
    ("node_boot_time_seconds", "host rebooted"),
)
"""Timestamps whose change marks a restart (the related changes shown on a timeline)."""
CAUSES_TTL_S = 30.0
"""Ranked causes of an incident are reused this long (unless the incident changed)."""
YOUNG_CAUSES_TTL_S = 5.0
"""Causes of a young incident (or none found yet) are looked at again this soon: its data is still arriving."""
YOUNG_INCIDENT_S = 120.0
"""An incident is young this long after it started (a few ranking steps of 15 s)."""


def server_of(labels: Mapping[str, str]) -> str:
    """The server a series or alert is about: its `server` label, else the host of `instance`."""
    if labels.get("server"):
        return labels["server"]
    inst = labels.get("instance", "")
    return inst.rsplit(":", 1)[0] if inst.count(":") == 1 else inst


def anomaly_event(payload: Mapping[str, Any]) -> Event:
    """An incident event from an anomaly payload (`Evidence.to_dict()`)."""
    series = dict(payload.get("series", {}))
    server = server_of(series)
    check = str(payload.get("check", "anomaly"))
    observed, expected = payload.get("observed"), payload.get("expected")
    text = f"anomaly: {check} on {server or 'a series'}"
    if isinstance(observed, float | int) and isinstance(expected, float | int):
        text += f" (observed {observed:.4g}, expected {expected:.4g})"
    key = "anomaly:" + check + ":" + ",".join(f"{k}={v}" for k, v in sorted(series.items()))
    return Event(
        "anomaly", float(payload.get("window_end", time.time())), key,
        (server,) if server else (), text, series,
        {k: payload[k] for k in ("promql", "score", "observed", "expected") if k in payload},
    )  # fmt: skip


def alert_event(payload: Mapping[str, Any]) -> Event:
    """An incident event from an `alerts` channel payload (see `services/alert_events.py`)."""
    labels = {str(k): str(v) for k, v in dict(payload.get("labels", {})).items()}
    annotations = dict(payload.get("annotations", {}))
    server = server_of(labels)
    resolved = payload.get("status") == "resolved"
    name = labels.get("alertname", "alert")
    text = f"alert {name} {'resolved' if resolved else 'firing'}"
    if annotations.get("summary"):
        text += f": {annotations['summary']}"
    stamp = payload.get("endsAt" if resolved else "startsAt")
    at = datetime.fromisoformat(str(stamp)).timestamp() if stamp else time.time()
    key = "alert:" + ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    kind: EntryKind = "alert_resolved" if resolved else "alert_firing"
    return Event(kind, at, key, (server,) if server else (), text, labels,
                 {"annotations": annotations})  # fmt: skip


class IncidentService:
    """Groups events into stored incidents; lists, shows, acknowledges, resolves, ranks causes."""

    def __init__(
        self,
        store: IncidentStore,
        *,
        settings: IncidentSettings | None = None,
        queries: RangeQueries | None = None,
        topology: Topology | None = None,
        clock: Callable[[], float] = time.time,
        publish: Callable[[str, dict[str, Any]], Any] | None = None,
    ) -> None:
        self.settings = settings or IncidentSettings()
        self.store, self.queries, self.clock, self.publish = store, queries, clock, publish
        self.topology = topology or Topology(self.settings.dependencies)
        self.window_s = parse_duration(self.settings.group_window) / 1000
        self.resolve_after_s = parse_duration(self.settings.resolve_after) / 1000
        self._lock = threading.RLock()
        self._causes: dict[int, tuple[float, float, builtins.list[Cause]]] = {}

    @classmethod
    def open(cls, settings: IncidentSettings, meta: MetaDB, **kwargs: Any) -> IncidentService:
        """The service over the metadata store (or the own SQLite file `incidents.database`)."""
        db, owned = own_or_shared(settings.database, meta)
        return cls(MetaIncidentStore(db, owned=owned), settings=settings, **kwargs)

    # ------------------------------------------------------------------ feeding
    def on_anomaly(self, payload: Mapping[str, Any]) -> Incident | None:
        """Add an anomaly (an `Evidence` dict) to its incident; returns that incident."""
        return self.add(anomaly_event(payload))

    def on_alert(self, payload: Mapping[str, Any]) -> Incident | None:
        """Add an alert that started firing or resolved (an `alerts` channel payload)."""
        return self.add(alert_event(payload), dedupe=True)

    def add(self, ev: Event, *, dedupe: bool = False) -> Incident | None:
        """Put `ev` into the open incident it belongs to, or into a new one.

        None for a resolved alert that belongs to no open incident (nothing to record).
        """
        with self._lock:
            open_ = self.store.unresolved()
            home = next(
                (i for i in open_ if ev.key in i.firing or
                 i.matches(ev, self.window_s, self.topology, self.settings.group_labels)),
                None,
            )  # fmt: skip
            if home is not None and dedupe and self._repeats(home, ev):
                return home
            if home is None:
                if ev.kind == "alert_resolved":  # nothing open to resolve into
                    return None
                inc = self.store.create(lambda ident: new_incident(ident, ev))
            else:
                inc = home.add(ev)
                self.store.put(inc)
        self._announce(inc)
        return inc

    @staticmethod
    def _repeats(inc: Incident, ev: Event) -> bool:
        """An alert state the incident already has (rules resend alerts every evaluation)."""
        if ev.kind == "alert_firing":
            return ev.key in inc.firing
        return ev.kind == "alert_resolved" and ev.key not in inc.firing

    # ------------------------------------------------------------------ upkeep
    def register(self, scheduler: Any, interval_s: float = TICK_INTERVAL_S) -> None:
        """Add the upkeep job to a Scheduler."""
        scheduler.add("incidents", interval_s, self.tick)

    def tick(self) -> builtins.list[Incident]:
        """Note process restarts of open incidents' servers; resolve quiet incidents."""
        now = self.clock()
        changed = []
        for inc in self.store.unresolved():
            updated = self._note_restarts(inc, now)
            if not updated.firing and now - updated.last_event_at >= self.resolve_after_s:
                quiet = int(now - updated.last_event_at)
                updated = updated.add(
                    Event("recovery", now, "recovery", (), f"no alert firing, quiet for {quiet}s")
                ).resolve(now, "resolved automatically: recovered")
            if updated is not inc:
                with self._lock:
                    self.store.put(updated)
                changed.append(updated)
                self._announce(updated)
        return changed

    def _note_restarts(self, inc: Incident, now: float) -> Incident:
        """Add a `change` entry per process (re)start or host reboot on the incident's servers."""
        if self.queries is None or not inc.servers:
            return inc
        out = inc
        for metric, what in RESTART_METRICS:
            expr = f"max by (server) ({metric}{{{server_selector(inc.servers)}}})"
            try:
                res = self.queries.range(expr, int(now * 1000), int(now * 1000), 1000)
            except Exception as exc:  # upkeep must go on without the query engine
                log.warning("incident %s: restart check failed: %s", inc.id, exc)
                return out
            known = {e.key for e in out.timeline}
            for s in res.series:
                if not len(s.values):
                    continue
                started = float(s.values[-1])
                server = server_of(dict(s.labels))
                key = f"{metric}:{server}:{started:.0f}"
                lo = inc.started_at - self.window_s
                if math.isfinite(started) and lo <= started <= now and key not in known:
                    promql = f'{metric}{{server="{server}"}}'
                    out = out.add(Event("change", started, key, (server,),
                                        f"{what} on {server}", {}, {"promql": promql}))  # fmt: skip
        return out

    def _announce(self, inc: Incident) -> None:
        if self.publish is not None:
            payload = inc.to_dict(with_timeline=False)
            payload["server"] = inc.servers[0] if inc.servers else ""
            self.publish(CHANNEL, payload)

    # ------------------------------------------------------------------ reading and actions
    def list(self, status: str | None = None, limit: int = 100) -> builtins.list[Incident]:
        """Incidents, newest first, optionally of one status."""
        st: Status | None = check_status(status)
        return self.store.list(st, limit)

    def get(self, ident: int) -> Incident:
        """One incident with its timeline; NotFound otherwise."""
        return self.store.get(ident)

    def acknowledge(self, ident: int, by: str = "") -> Incident:
        """Mark an incident acknowledged (someone is on it)."""
        with self._lock:
            inc = self.store.get(ident).acknowledge(self.clock(), by)
            self.store.put(inc)
        self._announce(inc)
        return inc

    def resolve(self, ident: int, by: str = "") -> Incident:
        """Mark an incident resolved by hand."""
        with self._lock:
            inc = self.store.get(ident).resolve(self.clock(), f"resolved by {by or 'someone'}")
            self.store.put(inc)
        self._announce(inc)
        return inc

    def causes(self, ident: int, limit: int = 5) -> builtins.list[Cause]:
        """Ranked candidate causes of an incident, with evidence (empty without a query engine)."""
        inc = self.store.get(ident)
        if self.queries is None:
            return []
        now = self.clock()
        hit = self._causes.get(ident)
        young = not (hit and hit[2]) or now - inc.started_at < YOUNG_INCIDENT_S
        ttl = YOUNG_CAUSES_TTL_S if young else CAUSES_TTL_S
        if hit is not None and hit[0] == inc.last_event_at and now - hit[1] < ttl:
            return hit[2][:limit]
        end = inc.resolved_at if inc.resolved_at is not None else now
        found = rank_causes(
            self.queries, int(inc.started_at * 1000), int(end * 1000), topology=self.topology
        )
        self._causes[ident] = (inc.last_event_at, now, found)
        return found[:limit]

    def close(self) -> None:
        """Close the store."""
        self.store.close()
