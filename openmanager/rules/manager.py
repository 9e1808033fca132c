"""The set of loaded rule groups: evaluation when each group is due, reload, alert hand-off.

Independent of the event loop and settings so the service, the backtester and tests share it.
On reload, a group whose file, name and rules are unchanged keeps its alerts (Prometheus's
CopyState); a broken file leaves the running rules untouched.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from openmanager.observability.metrics import RULE_GROUP_SECONDS
from openmanager.promql.engine import Engine
from openmanager.rules.alerting import Alert, AlertingRule
from openmanager.rules.gofuncs import table_link
from openmanager.rules.group import Group, GroupOptions, NotifyFn, build_groups, engine_query
from openmanager.rules.outbound import AlertSender, PostableAlert, ms_to_datetime
from openmanager.rules.rulefile import GroupSpec, RuleFileInvalid, load_rule_files
from openmanager.samples import SampleBatch
from openmanager.tsdb.storage import Storage

log = logging.getLogger(__name__)


@dataclass
class ReloadOutcome:
    """What a reload did: `error` is None on success (then the new rules run)."""

    error: str | None
    groups: int
    rules: int


def to_postable(
    alerts: Sequence[Alert], expr: str, external_url: str, external_labels: dict[str, str]
) -> list[PostableAlert]:
    """Prometheus's sendAlerts + notifier: startsAt=firedAt, endsAt=resolvedAt or validUntil."""
    url = external_url.rstrip("/") + table_link(expr)
    out = []
    for a in alerts:
        labels = dict(a.labels)
        for k, v in external_labels.items():
            labels.setdefault(k, v)
        out.append(
            PostableAlert(
                labels=labels,
                annotations=dict(a.annotations),
                starts_at=ms_to_datetime(a.fired_at),
                ends_at=ms_to_datetime(a.resolved_at or a.valid_until),
                generator_url=url,
            )
        )
    return out


class RuleManager:
    """Loads rule files into groups and evaluates each group at its aligned slots."""

    def __init__(
        self,
        storage: Storage,
        files: Sequence[str],
        default_interval_ms: int,
        options: GroupOptions | None = None,
        sender: AlertSender | None = None,
    ) -> None:
        self.storage = storage
        self.files = list(files)
        self.default_interval_ms = default_interval_ms
        self.options = options or GroupOptions()
        self.sender = sender
        self.engine = Engine(storage)
        self.query = engine_query(self.engine)
        self.groups: list[Group] = []
        self.last_error: str | None = None
        self.last_reload_ok = True
        self._evals: dict[tuple[str, str], int] = {}
        self._first_load = True
        self._lock = threading.RLock()

    def load_specs(self) -> list[GroupSpec]:
        """Parse every configured file (raises RuleFileInvalid naming file, line and reason)."""
        return load_rule_files(self.files)

    def reload(self) -> ReloadOutcome:
        """Re-read the files; on any error keep the running groups and report why."""
        try:
            specs = self.load_specs()
            new = build_groups(
                specs, self.default_interval_ms, self.options, restored=not self._first_load
            )
        except RuleFileInvalid as exc:
            self.last_error = "\n".join(str(p) for p in exc.problems)
            self.last_reload_ok = False
            log.error("rule reload failed, keeping previous rules: %s", self.last_error)
            return ReloadOutcome(self.last_error, len(self.groups), self._rule_count())
        except Exception as exc:  # e.g. a bad interval
            self.last_error = str(exc)
            self.last_reload_ok = False
            log.error("rule reload failed, keeping previous rules: %s", exc)
            return ReloadOutcome(self.last_error, len(self.groups), self._rule_count())
        with self._lock:
            old = {g.key: g for g in self.groups}
            for g in new:
                prev = old.get(g.key)
                if prev is not None:
                    _copy_state(prev, g)
            self.groups = new
            self._first_load = False
        self.last_error = None
        self.last_reload_ok = True
        log.info("loaded %d rule groups (%d rules)", len(new), self._rule_count())
        return ReloadOutcome(None, len(new), self._rule_count())

    def _rule_count(self) -> int:
        return sum(len(g.rules) for g in self.groups)

    def _notify_for(self, group: Group) -> NotifyFn:
        def notify(expr: str, alerts: Sequence[Alert]) -> None:
            if self.sender is None or not alerts:
                return
            postable = to_postable(
                alerts, expr, self.options.external_url, self.options.external_labels
            )
            try:
                self.sender.send(postable)
            except Exception:  # a failing notifier must not stop rule evaluation
                log.exception("alert sender failed for group %s", group.name)

        return notify

    def _append(self, batch: SampleBatch) -> object:
        return self.storage.append(batch)

    def eval_group(self, group: Group, ts: int) -> None:
        """Evaluate one group at `ts`, then restore `for` state once it has run twice."""
        group.eval(ts, self.query, self._append, self._notify_for(group))
        RULE_GROUP_SECONDS.labels(group.name).observe(group.evaluation_seconds)
        n = self._evals.get(group.key, 0) + 1
        self._evals[group.key] = n
        if n == 2 and any(isinstance(r, AlertingRule) and not r.restored for r in group.rules):
            group.restore_for_state(ts, self.storage)

    def tick(self, now_ms: int) -> int:
        """Evaluate every group whose next slot has come; returns how many were evaluated."""
        with self._lock:
            groups = list(self.groups)
        n = 0
        for g in groups:
            ts = g.eval_timestamp(now_ms)
            if ts > g.last_evaluation_ms:
                self.eval_group(g, ts)
                n += 1
        return n

    def alerting_rules(self) -> Iterable[tuple[Group, AlertingRule]]:
        for g in self.groups:
            for r in g.rules:
                if isinstance(r, AlertingRule):
                    yield g, r


def _copy_state(old: Group, new: Group) -> None:
    """Carry alerts and last-eval times over to an identical rule (same name, expr, labels)."""
    new.last_evaluation_ms = old.last_evaluation_ms
    new.evaluation_seconds = old.evaluation_seconds
    by_key: dict[tuple[str, str, str], list[int]] = {}
    for i, r in enumerate(old.rules):
        by_key.setdefault((r.kind, r.name, r.spec.expr), []).append(i)
    for j, r in enumerate(new.rules):
        idxs = by_key.get((r.kind, r.name, r.spec.expr))
        if not idxs:
            continue
        i = idxs.pop(0)
        src = old.rules[i]
        new._previous[j] = old._previous[i]
        r.status = src.status
        if isinstance(r, AlertingRule) and isinstance(src, AlertingRule):
            if src.spec.labels == r.spec.labels:
                r.active = src.active
            r.restored = src.restored
