"""The dispatcher: alerts into aggregation groups per route, flushed on Alertmanager's timers.

`ingest` takes alerts, `tick(now)` flushes groups whose time has come. A flush drops muted
alerts (silences, inhibition, flapping, maintenance, the route's time intervals), then per
receiver integration notifies only when something changed or `repeat_interval` passed
(Alertmanager's notification-log dedup); the log is updated only after a delivery succeeded,
so a failed one is tried again at the next `group_interval`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from openmanager.notify.config import NotifyConfig
from openmanager.notify.flap import FlapDetector
from openmanager.notify.inhibit import inhibited_by
from openmanager.notify.maintenance import MaintenanceWindow
from openmanager.notify.model import Alert, iso
from openmanager.notify.receivers.base import Integration, Message
from openmanager.notify.route import Route, build_route, group_key
from openmanager.notify.silences import Silence
from openmanager.notify.store import NotificationRecord, NotifyStore
from openmanager.notify.timeintervals import in_any

Submit = Callable[[str, int, Message, Callable[[bool, int, str], None]], None]


@dataclass
class _Group:
    route: Route
    key: str
    labels: dict[str, str]
    next_flush: float
    alerts: dict[str, Alert] = field(default_factory=dict)
    has_flushed: bool = False


@dataclass
class _LogEntry:
    firing: frozenset[str]
    resolved: frozenset[str]
    at: float


class Dispatcher:
    """Routing, grouping, dedup and muting for one configuration."""

    def __init__(
        self,
        cfg: NotifyConfig,
        integrations: dict[str, list[Integration]],
        submit: Submit,
        store: NotifyStore,
        *,
        silences: Callable[[], Sequence[Silence]],
        flaps: FlapDetector,
        maintenance: Sequence[MaintenanceWindow] = (),
        external_url: str = "",
    ) -> None:
        self.cfg = cfg
        self.root = build_route(cfg.route)
        self.integrations = integrations
        self.submit = submit
        self.store = store
        self.silences = silences
        self.flaps = flaps
        self.maintenance = list(maintenance)
        self.external_url = external_url
        self.alerts: dict[str, Alert] = {}
        self._state: dict[str, bool] = {}  # fingerprint -> firing
        self.groups: dict[str, _Group] = {}
        self._log: dict[tuple[str, str, int], _LogEntry] = {
            key: _LogEntry(frozenset(f), frozenset(r), at)
            for key, (f, r, at) in store.logs().items()
        }
        self._lock = threading.RLock()

    # ingest
    def ingest(self, alerts: Sequence[Alert], now: float) -> None:
        """Add or update alerts, track state changes (history, flapping), place them in groups."""
        with self._lock:
            for alert in alerts:
                old = self.alerts.get(alert.fingerprint)
                if (
                    old is not None
                    and not old.resolved(alert.starts_at)
                    and old.starts_at < alert.starts_at
                ):
                    alert = Alert(**{**vars(alert), "starts_at": old.starts_at})
                self.alerts[alert.fingerprint] = alert
                self._track(alert, now)
                for route in self.root.match(alert.labels):
                    labels = route.group_labels(alert.labels)
                    key = group_key(route, labels)
                    group = self.groups.get(key)
                    if group is None:
                        group = _Group(route, key, labels, now + route.group_wait_s)
                        self.groups[key] = group
                    group.alerts[alert.fingerprint] = alert
                    if not group.has_flushed and alert.starts_at + route.group_wait_s < now:
                        group.next_flush = min(group.next_flush, now)

    def _track(self, alert: Alert, now: float) -> None:
        firing = not alert.resolved(now)
        before = self._state.get(alert.fingerprint)
        if before == firing:
            return
        self._state[alert.fingerprint] = firing
        if firing:
            self.store.open_episode(
                alert.fingerprint, alert.labels, alert.annotations, alert.starts_at
            )
        else:
            self.store.resolve_episode(alert.fingerprint, min(alert.ends_at, now))
        if before is not None:
            was = self.flaps.flapping(alert.fingerprint, now)
            if self.flaps.record(alert.fingerprint, now) and not was:
                self.store.set_flapping(alert.fingerprint, True)

    # flushing
    def tick(self, now: float) -> int:
        """Resolve timed-out alerts and flush due groups; returns notifications submitted."""
        with self._lock:
            for alert in list(self.alerts.values()):
                self._track(alert, now)
            sent = 0
            for key in sorted(self.groups):
                group = self.groups[key]
                if group.next_flush <= now:
                    group.next_flush = now + group.route.group_interval_s
                    sent += self._flush(group, now)
                    group.has_flushed = True
                if not group.alerts:
                    del self.groups[key]
            live = {fp for g in self.groups.values() for fp in g.alerts}
            for fp in list(self.alerts):
                if fp not in live:
                    del self.alerts[fp]
                    self.flaps.forget(fp, now)
            return sent

    def muted_reason(self, alert: Alert, now: float, silences: Sequence[Silence]) -> str | None:
        """Why an alert is held back right now (silenced, inhibited, flapping, maintenance)."""
        for s in silences:
            if s.mutes(alert.labels, now):
                return f"silenced:{s.id}"
        firing = [a for a in self.alerts.values() if not a.resolved(now)]
        by = inhibited_by(self.cfg.inhibit_rules, alert.labels, firing)
        if by is not None:
            return f"inhibited:{by}"
        if self.flaps.flapping(alert.fingerprint, now):
            return "flapping"
        for w in self.maintenance:
            if w.mutes(alert.labels, now):
                return f"maintenance:{w.name}"
        return None

    def _route_muted(self, route: Route, now: float) -> bool:
        t = datetime.fromtimestamp(now, UTC)
        intervals = self.cfg.time_intervals
        for name in route.mute_time_intervals:
            if in_any(intervals[name], t):
                return True
        if route.active_time_intervals:
            return not any(in_any(intervals[n], t) for n in route.active_time_intervals)
        return False

    def _flush(self, group: _Group, now: float) -> int:
        silences = self.silences()
        alerts = [a for a in group.alerts.values() if self.muted_reason(a, now, silences) is None]
        resolved_now = {fp for fp, a in group.alerts.items() if a.resolved(now)}
        sent = 0
        if alerts and not self._route_muted(group.route, now):
            firing = frozenset(a.fingerprint for a in alerts if not a.resolved(now))
            resolved = frozenset(a.fingerprint for a in alerts if a.resolved(now))
            receiver = group.route.receiver
            for index, integration in enumerate(self.integrations.get(receiver, [])):
                log_key = (group.key, receiver, index)
                res = resolved if integration.send_resolved else frozenset()
                if not self._needs_update(log_key, firing, res, group.route, integration, now):
                    continue
                to_send = [a for a in alerts if a.fingerprint in firing or a.fingerprint in res]
                if not to_send:
                    self._log[log_key] = _LogEntry(firing, res, now)
                    self.store.put_log(log_key, sorted(firing), sorted(res), now)
                    continue
                message = Message(
                    receiver, group.key, group.labels, to_send, now, self.external_url
                )
                self.submit(receiver, index, message, self._outcome(log_key, message, firing, res))
                sent += 1
        # Resolved alerts leave the group once no integration still owes their resolution.
        for fp in resolved_now:
            if all(
                fp not in entry.firing
                for (gk, _r, _i), entry in self._log.items()
                if gk == group.key
            ):
                del group.alerts[fp]
        return sent

    def _needs_update(
        self,
        key: tuple[str, str, int],
        firing: frozenset[str],
        resolved: frozenset[str],
        route: Route,
        integration: Integration,
        now: float,
    ) -> bool:
        entry = self._log.get(key)
        if entry is None:
            return bool(firing)
        if not firing <= entry.firing:
            return True
        if not firing:
            return bool(entry.firing)
        if integration.send_resolved and not resolved <= entry.resolved:
            return True
        return entry.at < now - route.repeat_interval_s

    def _outcome(
        self,
        key: tuple[str, str, int],
        message: Message,
        firing: frozenset[str],
        resolved: frozenset[str],
    ) -> Callable[[bool, int, str], None]:
        def done(ok: bool, attempts: int, error: str) -> None:
            with self._lock:
                if ok:
                    self._log[key] = _LogEntry(firing, resolved, message.now)
                    self.store.put_log(key, sorted(firing), sorted(resolved), message.now)
            self.store.record_notification(
                NotificationRecord(
                    receiver=message.receiver,
                    integration=f"{key[2]}",
                    group_key=message.group_key,
                    at=message.now,
                    status="sent" if ok else "failed",
                    attempts=attempts,
                    error=error,
                    firing=sorted(firing),
                    resolved=sorted(resolved),
                )
            )

        return done

    def reload_log(self) -> int:
        """Take in the notification log as stored (by whichever instance led before us).

        Called when this instance becomes the leader: what the previous leader already
        notified is not sent again (instances sharing a metadata store share the log).
        Entries newer here than in the store are kept. Returns the entries taken.
        """
        stored = self.store.logs()
        taken = 0
        with self._lock:
            for key, (firing, resolved, at) in stored.items():
                mine = self._log.get(key)
                if mine is None or mine.at < at:
                    self._log[key] = _LogEntry(frozenset(firing), frozenset(resolved), at)
                    taken += 1
        return taken

    def forget_log(self, before: float) -> None:
        """Drop notification-log entries last written before `before`."""
        with self._lock:
            for key in [k for k, e in self._log.items() if e.at < before]:
                del self._log[key]

    # introspection
    def alerts_status(self, now: float) -> list[dict[str, Any]]:
        """Every alert held, with state, groups/receivers and why it is muted if it is."""
        with self._lock:
            silences = self.silences()
            out = []
            for a in sorted(self.alerts.values(), key=lambda a: a.starts_at):
                receivers = sorted(
                    {g.route.receiver for g in self.groups.values() if a.fingerprint in g.alerts}
                )
                out.append(
                    {
                        **a.to_json(now),
                        "receivers": receivers,
                        "mutedBy": self.muted_reason(a, now, silences),
                        "flapping": self.flaps.flapping(a.fingerprint, now),
                        "stateChanges": self.flaps.changes(a.fingerprint, now),
                        "updatedAt": iso(a.updated_at),
                    }
                )
            return out

    def gettable_alerts(self, now: float) -> list[dict[str, Any]]:
        """Unresolved alerts as Alertmanager's API lists them (state active or suppressed)."""
        with self._lock:
            silences = self.silences()
            firing = [a for a in self.alerts.values() if not a.resolved(now)]
            out = []
            for a in sorted(firing, key=lambda a: a.fingerprint):
                silenced = [s.id for s in silences if s.mutes(a.labels, now)]
                by = inhibited_by(self.cfg.inhibit_rules, a.labels, firing)
                inhibited = [by] if by is not None else []
                receivers = sorted(
                    {g.route.receiver for g in self.groups.values() if a.fingerprint in g.alerts}
                )
                out.append(
                    {
                        "labels": dict(a.labels),
                        "annotations": dict(a.annotations),
                        "startsAt": iso(a.starts_at),
                        "endsAt": iso(a.ends_at),
                        "updatedAt": iso(a.updated_at),
                        "generatorURL": a.generator_url,
                        "fingerprint": a.fingerprint,
                        "receivers": [{"name": r} for r in receivers],
                        "status": {
                            "state": "suppressed" if silenced or inhibited else "active",
                            "silencedBy": silenced,
                            "inhibitedBy": inhibited,
                        },
                    }
                )
            return out

    def groups_status(self, now: float) -> list[dict[str, Any]]:
        """Aggregation groups with their receiver, labels, alert count and next flush."""
        with self._lock:
            return [
                {
                    "groupKey": g.key,
                    "receiver": g.route.receiver,
                    "labels": g.labels,
                    "alerts": len(g.alerts),
                    "nextFlushAt": iso(g.next_flush),
                }
                for g in self.groups.values()
            ]
