"""Rules and alerts in the JSON shapes of Prometheus's `/api/v1/rules` and `/api/v1/alerts`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from openmanager.rules.alerting import Alert, AlertingRule, AlertState, RecordingRule
from openmanager.rules.gofmt import shortest_e
from openmanager.rules.group import Group
from openmanager.rules.outbound import format_time, ms_to_datetime

ZERO_TIME = "0001-01-01T00:00:00Z"
"""Go's zero time, what Prometheus shows for a rule never evaluated."""


def _num(x: float) -> float | int:
    """A float as Go's JSON encoder writes it: whole numbers without a fraction."""
    return int(x) if float(x).is_integer() else x


def _time(ms: int) -> str:
    return format_time(ms_to_datetime(ms)) if ms else ZERO_TIME


def alert_json(a: Alert) -> dict[str, Any]:
    """One alert as Prometheus's API shows it (value in Go's %e form)."""
    out: dict[str, Any] = {
        "labels": dict(a.labels),
        "annotations": dict(a.annotations),
        "state": a.state.value,
        "activeAt": _time(a.active_at),
        "value": shortest_e(a.value),
    }
    if a.keep_firing_since:
        out["keepFiringSince"] = _time(a.keep_firing_since)
    return out


def active_alerts(rule: AlertingRule) -> list[Alert]:
    """Pending and firing alerts (resolved ones kept for notification are left out)."""
    alerts = [a for a in rule.active.values() if a.state != AlertState.INACTIVE]
    return sorted(alerts, key=lambda a: a.labels)


def rule_json(rule: AlertingRule | RecordingRule, with_alerts: bool = True) -> dict[str, Any]:
    """One rule entry of a group."""
    st = rule.status
    if isinstance(rule, AlertingRule):
        out: dict[str, Any] = {
            "state": rule.state().value,
            "name": rule.name,
            "query": rule.query_text,
            "duration": _num(rule.spec.for_ms / 1000),
            "keepFiringFor": _num(rule.spec.keep_firing_for_ms / 1000),
            "labels": dict(rule.spec.labels),
            "annotations": dict(rule.spec.annotations),
            "alerts": [alert_json(a) for a in active_alerts(rule)] if with_alerts else [],
            "health": st.health,
        }
    else:
        out = {"name": rule.name, "query": rule.query_text, "health": st.health}
        if rule.spec.labels:
            out["labels"] = dict(rule.spec.labels)
    if st.last_error:
        out["lastError"] = st.last_error
    out["evaluationTime"] = st.evaluation_seconds
    out["lastEvaluation"] = _time(st.last_evaluation_ms)
    out["type"] = rule.kind
    return out


def groups_json(
    groups: Iterable[Group],
    *,
    kind: str | None = None,
    rule_names: set[str] | None = None,
    group_names: set[str] | None = None,
    files: set[str] | None = None,
    with_alerts: bool = True,
) -> dict[str, Any]:
    """`data` of `/api/v1/rules`; `kind` is `alert` or `record` to keep only that type."""
    out = []
    for g in groups:
        if group_names and g.name not in group_names:
            continue
        if files and g.file not in files:
            continue
        rules = []
        for r in g.rules:
            if kind == "alert" and not isinstance(r, AlertingRule):
                continue
            if kind == "record" and not isinstance(r, RecordingRule):
                continue
            if rule_names and r.name not in rule_names:
                continue
            rules.append(rule_json(r, with_alerts))
        if (kind or rule_names) and not rules:
            continue
        out.append(
            {
                "name": g.name,
                "file": g.file,
                "rules": rules,
                "interval": _num(g.interval_ms / 1000),
                "limit": g.limit,
                "evaluationTime": g.evaluation_seconds,
                "lastEvaluation": _time(g.last_evaluation_ms),
            }
        )
    return {"groups": out}


def alerts_json(groups: Iterable[Group]) -> dict[str, Any]:
    """`data` of `/api/v1/alerts`: every pending or firing alert."""
    alerts: list[dict[str, Any]] = []
    for g in groups:
        for r in g.rules:
            if isinstance(r, AlertingRule):
                alerts.extend(alert_json(a) for a in active_alerts(r))
    return {"alerts": alerts}
