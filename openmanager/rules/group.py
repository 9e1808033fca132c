"""A rule group: its rules evaluated in order at one timestamp, results written to storage.

As Prometheus's rules.Group: series a rule stops producing get a stale marker, alerting rules
hand due alerts to the notify callback, and `restore_for_state` rebuilds pending alerts'
`for` progress from stored `ALERTS_FOR_STATE` after a restart.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from openmanager.errors import InvalidInput, OpenManagerError
from openmanager.promql.engine import Engine
from openmanager.promql.types import ValueType
from openmanager.promql.xxhash64 import xxh64
from openmanager.rules.alerting import (
    Alert,
    AlertingRule,
    QueryVector,
    RecordingRule,
    Rule,
    RuleEvalError,
)
from openmanager.rules.rulefile import GroupSpec
from openmanager.samples import METRIC_NAME, STALE_NAN, Labels, SampleBatch, is_stale
from openmanager.tsdb.matchers import Matcher, MatchType
from openmanager.tsdb.storage import Storage

log = logging.getLogger(__name__)

DEFAULT_RESEND_DELAY_MS = 60_000
DEFAULT_OUTAGE_TOLERANCE_MS = 3_600_000
DEFAULT_FOR_GRACE_PERIOD_MS = 600_000

NotifyFn = Callable[[str, Sequence[Alert]], None]
"""Called with (rule expression, alerts due for sending) after each alerting rule evaluation."""


def engine_query(engine: Engine) -> Callable[[str, int], QueryVector]:
    """Prometheus's EngineQueryFunc: a vector as is, a scalar as one unlabelled sample."""

    def query(expr: str, ts: int) -> QueryVector:
        try:
            res = engine.instant_query(expr, ts)
        except OpenManagerError as exc:
            raise RuleEvalError(exc.message) from exc
        if res.type == ValueType.VECTOR:
            return [(s.labels, float(s.values[0])) for s in res.series]
        if res.type == ValueType.SCALAR:
            return [((), float(res.series[0].values[0]))]
        raise RuleEvalError("rule result is not a vector or scalar")

    return query


@dataclass
class GroupOptions:
    """Settings shared by every group of a manager."""

    external_labels: dict[str, str] = field(default_factory=dict)
    external_url: str = ""
    resend_delay_ms: int = DEFAULT_RESEND_DELAY_MS
    outage_tolerance_ms: int = DEFAULT_OUTAGE_TOLERANCE_MS
    for_grace_period_ms: int = DEFAULT_FOR_GRACE_PERIOD_MS

    def __post_init__(self) -> None:
        # Prometheus trims the trailing slash of --web.external-url (templates see it so)
        self.external_url = self.external_url.rstrip("/")


class Group:
    """Rules of one group, evaluated in file order every `interval_ms`."""

    def __init__(
        self,
        spec: GroupSpec,
        default_interval_ms: int,
        options: GroupOptions | None = None,
        *,
        restored: bool = True,
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.file = spec.file
        self.interval_ms = spec.interval_ms or default_interval_ms
        self.query_offset_ms = spec.query_offset_ms or 0
        self.limit = spec.limit
        self.options = options or GroupOptions()
        self.rules: list[Rule] = [
            AlertingRule(
                r,
                self.options.external_labels,
                self.options.external_url,
                restored=restored,
            )
            if r.kind == "alerting"
            else RecordingRule(r)
            for r in spec.rules
        ]
        self._previous: list[dict[Labels, None]] = [{} for _ in self.rules]
        self.last_evaluation_ms = 0
        self.evaluation_seconds = 0.0

    @property
    def key(self) -> tuple[str, str]:
        return (self.file, self.name)

    def eval_timestamp(self, now_ms: int) -> int:
        """Prometheus's Group.EvalTimestamp: the latest aligned slot at or before `now_ms`.

        Slots are offset by a hash of the group's identity, so groups spread over the interval.
        """
        offset = _group_offset(self.file, self.name, self.interval_ms)
        adjusted = now_ms - offset
        base = adjusted - (adjusted % self.interval_ms)
        return base + offset

    def eval(
        self,
        ts: int,
        query: Callable[[str, int], QueryVector],
        append: Callable[[SampleBatch], object],
        notify: NotifyFn | None = None,
    ) -> None:
        """Evaluate every rule at `ts` (ms), store their samples and stale markers, notify."""
        started = time.perf_counter()
        for i, rule in enumerate(self.rules):
            t0 = time.perf_counter()
            rule.status.last_evaluation_ms = ts
            try:
                vector = rule.eval(ts, query, self.limit, self.query_offset_ms)
            except RuleEvalError as exc:
                rule.status.health, rule.status.last_error = "err", str(exc)
                rule.status.evaluation_seconds = time.perf_counter() - t0
                log.warning("rule %s in group %s failed: %s", rule.name, self.name, exc)
                continue
            rule.status.health, rule.status.last_error = "ok", ""
            if isinstance(rule, AlertingRule) and notify is not None:
                due = rule.alerts_to_send(ts, self.options.resend_delay_ms, self.interval_ms)
                if due:
                    notify(rule.query_text, due)
            sample_ts = ts - self.query_offset_ms
            returned = {lbl: None for lbl, _ in vector}
            items: list[tuple[Labels, list[int], list[float]]] = [
                (lbl, [sample_ts], [v]) for lbl, v in vector
            ]
            items.extend(
                (lbl, [sample_ts], [STALE_NAN]) for lbl in self._previous[i] if lbl not in returned
            )
            self._previous[i] = returned
            if items:
                append(SampleBatch.from_series(items))
            rule.status.evaluation_seconds = time.perf_counter() - t0
        self.last_evaluation_ms = ts
        self.evaluation_seconds = time.perf_counter() - started

    def restore_for_state(self, ts: int, storage: Storage) -> None:
        """Shift pending alerts' active-since back to what `ALERTS_FOR_STATE` recorded.

        Prometheus's RestoreForState: only history within the outage tolerance counts; an alert
        that would fire within the grace period after the restart waits the grace period.
        """
        mint = ts - self.options.outage_tolerance_ms
        for rule in self.rules:
            if not isinstance(rule, AlertingRule):
                continue
            hold = rule.hold_ms
            if hold < self.options.for_grace_period_ms:
                rule.restored = True
                continue
            for alert in rule.active.values():
                matchers = [Matcher(METRIC_NAME, MatchType.EQ, "ALERTS_FOR_STATE")]
                matchers += [Matcher(k, MatchType.EQ, v) for k, v in alert.labels]
                found = [
                    s for s in storage.select(matchers, mint, ts) if len(s.labels) == len(matchers)
                ]
                if not found or len(found[0].timestamps) == 0:
                    continue
                series = found[0]
                t = int(series.timestamps[-1])
                v = float(series.values[-1])
                if bool(is_stale(np.array([v]))[0]) or math.isnan(v):
                    continue
                down_at = (t // 1000) * 1000
                restored_active_at = int(v) * 1000
                remaining = hold - (down_at - restored_active_at)
                if remaining <= 0:
                    pass
                elif remaining < self.options.for_grace_period_ms:
                    restored_active_at = ts + self.options.for_grace_period_ms - hold
                else:
                    restored_active_at += ts - down_at
                alert.active_at = restored_active_at
            rule.restored = True


def _group_offset(file: str, name: str, interval_ms: int) -> int:
    """A stable per-group offset within the interval (Prometheus hashes the group key)."""
    h = xxh64(f"{name};{file}".encode())
    return int(h % interval_ms) if interval_ms > 0 else 0


def build_groups(
    specs: Sequence[GroupSpec],
    default_interval_ms: int,
    options: GroupOptions | None = None,
    *,
    restored: bool = True,
) -> list[Group]:
    """Groups for a list of specs; raises InvalidInput if a group's interval is not positive."""
    groups = [Group(s, default_interval_ms, options, restored=restored) for s in specs]
    for g in groups:
        if g.interval_ms <= 0:
            raise InvalidInput(f"group {g.name!r} in {g.file}: interval must be positive")
    return groups
