"""Alerting and recording rules with Prometheus's evaluation semantics (rules/alerting.go).

An alerting rule keeps one `Alert` per label set: pending until `for` has passed, then firing;
`keep_firing_for` holds a firing alert after its expression stops returning it; a resolved
alert is kept 15 minutes so notifiers hear that it ended. Each evaluation returns the
`ALERTS` and `ALERTS_FOR_STATE` samples to store.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from openmanager.rules.exprfmt import canonical
from openmanager.rules.rulefile import RuleSpec
from openmanager.rules.template import AlertTemplateData, expand_alert_text
from openmanager.samples import METRIC_NAME, Labels

RESOLVED_RETENTION_MS = 15 * 60_000
"""How long a resolved alert is kept (and re-sent as resolved), as Prometheus."""

QueryVector = list[tuple[Labels, float]]
QueryFn = Callable[[str, int], QueryVector]
"""Instant query at a time (ms) -> [(labels, value)]; raises on failure or non-vector result."""


class RuleEvalError(Exception):
    """A rule's evaluation failed (query error, duplicate label sets, limit exceeded)."""


class AlertState(StrEnum):
    """An alert's state, with Prometheus's names."""

    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"


_STATE_ORDER = {AlertState.INACTIVE: 0, AlertState.PENDING: 1, AlertState.FIRING: 2}


@dataclass
class Alert:
    """One active (or recently resolved) alert of a rule; times in ms, 0 means unset."""

    labels: Labels
    annotations: Labels
    state: AlertState
    active_at: int
    value: float
    fired_at: int = 0
    resolved_at: int = 0
    last_sent_at: int = 0
    valid_until: int = 0
    keep_firing_since: int = 0

    def needs_sending(self, ts: int, resend_delay_ms: int) -> bool:
        """Prometheus's Alert.needsSending: firing or resolved, and due for (re)sending."""
        if self.state == AlertState.PENDING:
            return False
        if self.resolved_at > self.last_sent_at:
            return True
        return self.last_sent_at + resend_delay_ms < ts


def set_label(labels: dict[str, str], name: str, value: str) -> None:
    """labels.Builder.Set: an empty value deletes the label."""
    if value == "":
        labels.pop(name, None)
    else:
        labels[name] = value


@dataclass
class RuleStatus:
    """Health of a rule's last evaluation, for the API."""

    health: str = "unknown"
    last_error: str = ""
    last_evaluation_ms: int = 0
    evaluation_seconds: float = 0.0


class RecordingRule:
    """Stores an expression's result under a new metric name."""

    kind = "recording"

    def __init__(self, spec: RuleSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.query_text = canonical(spec.expr)
        self.status = RuleStatus()

    def eval(self, ts: int, query: QueryFn, limit: int, query_offset_ms: int = 0) -> QueryVector:
        """Result series renamed and relabelled (Prometheus's RecordingRule.Eval)."""
        vector = query(self.spec.expr, ts - query_offset_ms)
        out: QueryVector = []
        seen: set[Labels] = set()
        for lbl, v in vector:
            d = dict(lbl)
            d[METRIC_NAME] = self.name
            for k, val in self.spec.labels.items():
                set_label(d, k, val)
            new = tuple(sorted(d.items()))
            if new in seen:
                raise RuleEvalError(
                    "vector contains metrics with the same labelset after applying rule labels"
                )
            seen.add(new)
            out.append((new, v))
        if 0 < limit < len(out):
            raise RuleEvalError(f"exceeded limit of {limit} with {len(out)} series")
        return out


class AlertingRule:
    """An alerting rule and its active alerts (keyed by label set)."""

    kind = "alerting"

    def __init__(
        self,
        spec: RuleSpec,
        external_labels: dict[str, str] | None = None,
        external_url: str = "",
        *,
        restored: bool = True,
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.query_text = canonical(spec.expr)
        """The expression as Prometheus prints it (API `query`, alerts' generatorURL)."""
        self.external_labels = dict(external_labels or {})
        self.external_url = external_url
        self.active: dict[Labels, Alert] = {}
        self.restored = restored
        self.status = RuleStatus()

    @property
    def hold_ms(self) -> int:
        return self.spec.for_ms

    def state(self) -> AlertState:
        """The highest state of any of its alerts (what /api/v1/rules shows)."""
        best = AlertState.INACTIVE
        for a in self.active.values():
            if _STATE_ORDER[a.state] > _STATE_ORDER[best]:
                best = a.state
        return best

    def _expand(
        self, text: str, labels: dict[str, str], value: float, ts: int, query: QueryFn
    ) -> str:
        data = AlertTemplateData(labels, self.external_labels, self.external_url, value)

        def tquery(q: str, t: int) -> list[tuple[dict[str, str], float]]:
            return [(dict(lbl), v) for lbl, v in query(q, t)]

        return expand_alert_text(text, f"__alert_{self.name}", data, ts, tquery)

    def eval(self, ts: int, query: QueryFn, limit: int, query_offset_ms: int = 0) -> QueryVector:
        """One evaluation at `ts` (ms): update alert states, return ALERTS/ALERTS_FOR_STATE samples."""
        vector = query(self.spec.expr, ts - query_offset_ms)
        fresh: dict[Labels, Alert] = {}
        for lbl, v in vector:
            sample_labels = dict(lbl)
            b = {k: val for k, val in lbl if k != METRIC_NAME}
            for k, tmpl in self.spec.labels.items():
                set_label(b, k, self._expand(tmpl, sample_labels, v, ts, query))
            b["alertname"] = self.name
            annotations = tuple(
                (k, self._expand(tmpl, sample_labels, v, ts, query))
                for k, tmpl in sorted(self.spec.annotations.items())
            )
            key = tuple(sorted(b.items()))
            if key in fresh:
                raise RuleEvalError(
                    "vector contains metrics with the same labelset after applying alert labels"
                )
            fresh[key] = Alert(key, annotations, AlertState.PENDING, ts, v)
        for key, a in fresh.items():
            old = self.active.get(key)
            if old is not None and old.state != AlertState.INACTIVE:
                old.value = a.value
                old.annotations = a.annotations
                continue
            self.active[key] = a
        out: QueryVector = []
        n_active = 0
        for key in list(self.active):
            a = self.active[key]
            if key not in fresh:
                keep = False
                if a.state == AlertState.FIRING and self.spec.keep_firing_for_ms > 0:
                    if a.keep_firing_since == 0:
                        a.keep_firing_since = ts
                    if ts - a.keep_firing_since < self.spec.keep_firing_for_ms:
                        keep = True
                if a.state == AlertState.PENDING or (
                    a.resolved_at and ts - a.resolved_at > RESOLVED_RETENTION_MS
                ):
                    del self.active[key]
                if a.state != AlertState.INACTIVE and not keep:
                    a.state = AlertState.INACTIVE
                    a.resolved_at = ts
                if not keep:
                    continue
            else:
                a.keep_firing_since = 0
            n_active += 1
            if a.state == AlertState.PENDING and ts - a.active_at >= self.hold_ms:
                a.state = AlertState.FIRING
                a.fired_at = ts
            if self.restored:
                out.append((alerts_labels(a), 1.0))
                out.append((for_state_labels(a), float(a.active_at // 1000)))
        if 0 < limit < n_active:
            self.active = {}
            raise RuleEvalError(f"exceeded limit of {limit} with {n_active} alerts")
        return out

    def alerts_to_send(self, ts: int, resend_delay_ms: int, interval_ms: int) -> list[Alert]:
        """Alerts due for sending now (Prometheus's sendAlerts); marks them sent."""
        out = []
        delta = max(resend_delay_ms, interval_ms)
        for a in self.active.values():
            if a.needs_sending(ts, resend_delay_ms):
                a.last_sent_at = ts
                a.valid_until = ts + 4 * delta
                out.append(Alert(**vars(a)))
        return out


def alerts_labels(a: Alert) -> Labels:
    """`ALERTS{<alert labels>, alertstate="pending|firing"}`."""
    d = dict(a.labels)
    d[METRIC_NAME] = "ALERTS"
    d["alertstate"] = a.state.value
    return tuple(sorted(d.items()))


def for_state_labels(a: Alert) -> Labels:
    """`ALERTS_FOR_STATE{<alert labels>}` whose value is the alert's active-since (Unix s)."""
    d = dict(a.labels)
    d[METRIC_NAME] = "ALERTS_FOR_STATE"
    return tuple(sorted(d.items()))


Rule = AlertingRule | RecordingRule


def now_ms() -> int:
    """Current time in ms."""
    return int(time.time() * 1000)
