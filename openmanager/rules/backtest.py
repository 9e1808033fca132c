"""Rule backtesting: replay rule files over stored history and report what they would have done.

Each rule's expression is evaluated as a range query at the group's evaluation steps (the same
values the instant queries of live evaluation give), recording rules feed an overlay that later
rules read, and alerting rules run through the real alert state machine. The report lists every
firing episode, the notifications Alertmanager would have sent, and, given the simulator's
ground truth, which faults were caught and how late.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from openmanager.errors import OpenManagerError
from openmanager.promql.engine import MAX_POINTS, Engine
from openmanager.promql.memstore import MemoryStorage
from openmanager.rules.alerting import AlertingRule, AlertState, QueryVector, RecordingRule
from openmanager.rules.group import Group, GroupOptions, build_groups, engine_query
from openmanager.rules.rulefile import GroupSpec
from openmanager.samples import Labels, SampleBatch, SeriesMeta, format_labels
from openmanager.simulate.faults import FaultRecord
from openmanager.tsdb.matchers import Matcher
from openmanager.tsdb.storage import Series, Storage

DEFAULT_REPEAT_INTERVAL_MS = 4 * 3_600_000
"""Alertmanager's default `repeat_interval`: a still-firing alert is re-notified this often."""


class OverlayStorage:
    """Reads from the stored history plus the series the backtest itself records."""

    def __init__(self, base: Storage) -> None:
        self.base = base
        self.overlay = MemoryStorage()

    def append(self, batch: SampleBatch) -> Any:
        return self.overlay.append(batch)

    def select(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[Series]:
        return self.base.select(matchers, start_ms, end_ms) + self.overlay.select(
            matchers, start_ms, end_ms
        )

    def series(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[Labels]:
        return [s.labels for s in self.select(matchers, start_ms, end_ms)]

    def label_names(
        self,
        matchers: Sequence[Matcher] = (),
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> list[str]:  # noqa: E501
        return sorted(set(self.base.label_names(matchers, start_ms, end_ms)))

    def label_values(
        self,
        name: str,
        matchers: Sequence[Matcher] = (),
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> list[str]:  # noqa: E501
        return self.base.label_values(name, matchers, start_ms, end_ms)

    def metadata(self, metric: str | None = None) -> dict[str, SeriesMeta]:
        return self.base.metadata(metric)

    def delete_series(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> int:
        return 0

    def stats(self) -> Any:
        return self.base.stats()

    def maintain(self) -> None:
        return None

    def close(self) -> None:
        return None


@dataclass
class Episode:
    """One alert from first firing to resolution (`end_ms` None if still firing at the end)."""

    rule: str
    labels: Labels
    pending_since_ms: int
    fired_ms: int
    end_ms: int | None = None
    notifications: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "alertname": self.rule,
            "labels": dict(self.labels),
            "pending_since_ms": self.pending_since_ms,
            "fired_ms": self.fired_ms,
            "resolved_ms": self.end_ms,
            "notifications": self.notifications,
        }


@dataclass
class FaultCoverage:
    """Whether a ground-truth fault was caught: the first alert on an affected server in its window."""

    fault_id: str
    scenario: str
    servers: tuple[str, ...]
    start_ms: int
    end_ms: int
    caught_by: str | None = None
    delay_ms: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self), servers=list(self.servers))


@dataclass
class BacktestReport:
    """Everything a backtest found."""

    start_ms: int
    end_ms: int
    evaluations: int = 0
    episodes: list[Episode] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    faults: list[FaultCoverage] = field(default_factory=list)

    @property
    def notifications(self) -> int:
        return sum(e.notifications for e in self.episodes)

    def per_rule(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for e in self.episodes:
            row = out.setdefault(e.rule, {"alerts": 0, "notifications": 0})
            row["alerts"] += 1
            row["notifications"] += e.notifications
        return out

    def to_dict(self) -> dict[str, Any]:
        caught = [f for f in self.faults if f.caught_by is not None]
        return {
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "evaluations": self.evaluations,
            "alerts_fired": len(self.episodes),
            "notifications": self.notifications,
            "per_rule": self.per_rule(),
            "episodes": [e.to_dict() for e in self.episodes],
            "errors": self.errors,
            "faults": [f.to_dict() for f in self.faults],
            "faults_caught": len(caught),
            "faults_total": len(self.faults),
        }


def _precompute(engine: Engine, expr: str, steps: np.ndarray) -> dict[int, QueryVector]:
    """The expression's vector at every step, by range queries of at most MAX_POINTS steps."""
    out: dict[int, QueryVector] = {int(t): [] for t in steps}
    if len(steps) == 0:
        return out
    step = int(steps[1] - steps[0]) if len(steps) > 1 else 60_000
    chunk = MAX_POINTS - 1
    for i in range(0, len(steps), chunk):
        part = steps[i : i + chunk]
        res = engine.range_query(expr, int(part[0]), int(part[-1]), step)
        for s in res.series:
            for t, v in zip(s.timestamps.tolist(), s.values.tolist(), strict=True):
                out[int(t)].append((s.labels, float(v)))
    return out


def run_backtest(
    specs: Sequence[GroupSpec],
    storage: Storage,
    start_ms: int,
    end_ms: int,
    default_interval_ms: int = 60_000,
    *,
    repeat_interval_ms: int = DEFAULT_REPEAT_INTERVAL_MS,
    faults: Sequence[FaultRecord] = (),
    options: GroupOptions | None = None,
) -> BacktestReport:
    """Replay `specs` over [start_ms, end_ms] of `storage`; faults (optional) are matched."""
    overlay = OverlayStorage(storage)
    engine = Engine(cast(Storage, overlay))
    live_query = engine_query(engine)
    groups = build_groups(specs, default_interval_ms, options, restored=True)
    report = BacktestReport(start_ms, end_ms)
    for g in groups:
        _run_group(g, engine, overlay, live_query, start_ms, end_ms, repeat_interval_ms, report)
    report.episodes.sort(key=lambda e: (e.fired_ms, e.rule, e.labels))
    report.faults = [fault_coverage(f, report.episodes) for f in faults]
    return report


def _run_group(
    g: Group,
    engine: Engine,
    overlay: OverlayStorage,
    live_query: Any,
    start_ms: int,
    end_ms: int,
    repeat_ms: int,
    report: BacktestReport,
) -> None:
    first = g.eval_timestamp(start_ms)
    if first < start_ms:
        first += g.interval_ms
    steps = np.arange(first, end_ms + 1, g.interval_ms, dtype=np.int64)
    report.evaluations += len(steps) * len(g.rules)
    for rule in g.rules:
        try:
            table = _precompute(engine, rule.spec.expr, steps)
        except OpenManagerError as exc:
            report.errors.append(f"{g.name}/{rule.name}: {exc.message}")
            continue

        def query(
            expr: str, ts: int, _table: dict[int, QueryVector] = table, _expr: str = rule.spec.expr
        ) -> QueryVector:  # noqa: E501
            if expr == _expr and ts in _table:
                return _table[ts]
            result: QueryVector = live_query(expr, ts)
            return result

        if isinstance(rule, RecordingRule):
            items: list[tuple[Labels, list[int], list[float]]] = []
            for t in steps.tolist():
                try:
                    vec = rule.eval(int(t), query, g.limit, g.query_offset_ms)
                except Exception as exc:  # noqa: BLE001 - reported, replay goes on
                    report.errors.append(f"{g.name}/{rule.name} at {t}: {exc}")
                    continue
                items.extend((lbl, [int(t)], [v]) for lbl, v in vec)
            if items:
                overlay.append(SampleBatch.from_series(items))
            continue
        assert isinstance(rule, AlertingRule)
        _replay_alerts(g, rule, query, steps, repeat_ms, report)


def _replay_alerts(
    g: Group,
    rule: AlertingRule,
    query: Any,
    steps: np.ndarray,
    repeat_ms: int,
    report: BacktestReport,
) -> None:
    open_eps: dict[Labels, Episode] = {}
    for t in steps.tolist():
        ts = int(t)
        try:
            rule.eval(ts, query, g.limit, g.query_offset_ms)
        except Exception as exc:  # noqa: BLE001 - reported, replay goes on
            report.errors.append(f"{g.name}/{rule.name} at {ts}: {exc}")
            continue
        firing = {k: a for k, a in rule.active.items() if a.state == AlertState.FIRING}
        for key, a in firing.items():
            ep = open_eps.get(key)
            if ep is None:
                ep = Episode(rule.name, key, a.active_at, a.fired_at, notifications=1)
                open_eps[key] = ep
                report.episodes.append(ep)
            elif ts - ep.fired_ms >= repeat_ms * ep.notifications:
                ep.notifications += 1
        for key in [k for k in open_eps if k not in firing]:
            ep = open_eps.pop(key)
            ep.end_ms = ts
            ep.notifications += 1  # the resolved notification


def _server_of(labels: Labels) -> str:
    d = dict(labels)
    if "server" in d:
        return d["server"]
    return d.get("instance", "").split(":", 1)[0]


def fault_coverage(fault: FaultRecord, episodes: Sequence[Episode]) -> FaultCoverage:
    """Whether and how early the episodes caught one ground-truth fault (shared by backtest and the noise bench)."""
    end = max([fault.end_ms, *(a.end_ms for a in fault.affected)])
    cov = FaultCoverage(fault.id, fault.scenario, fault.servers, fault.start_ms, end)
    for ep in episodes:  # sorted by firing time
        if fault.start_ms <= ep.fired_ms <= end and _server_of(ep.labels) in fault.servers:
            cov.caught_by = f"{ep.rule}{format_labels(ep.labels)}"
            cov.delay_ms = ep.fired_ms - fault.start_ms
            break
    return cov
