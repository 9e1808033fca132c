"""Prometheus's rule unit tests (`promtool test rules` files) run on OpenManager's rule engine.

A test file names rule files and test cases: `input_series` in the expanding notation
(`1+1x10`, `_`, `stale`), `alert_rule_test` (firing alerts with labels and annotations at an
evaluation time) and `promql_expr_test` (query results at a time). Rules are evaluated every
`evaluation_interval` from time 0, as promtool does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import yaml

from openmanager.errors import OpenManagerError
from openmanager.promql.engine import Engine
from openmanager.promql.memstore import MemoryStorage
from openmanager.promql.testscript import parse_series, parse_values
from openmanager.promql.types import ValueType
from openmanager.rules.alerting import AlertingRule, AlertState
from openmanager.rules.group import GroupOptions, build_groups, engine_query
from openmanager.rules.rulefile import RuleFileInvalid, load_rule_files, parse_duration
from openmanager.samples import Labels, SampleBatch, format_labels
from openmanager.tsdb.storage import Storage


@dataclass
class TestOutcome:
    """Result of one test file: failure messages per test case (empty = passed)."""

    file: str
    failures: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and not self.failures


def _dur(value: Any, default: int = 0) -> int:
    if value is None:
        return default
    return parse_duration(str(value))


def _fmt_dur(ms: int) -> str:
    """Go's time.Duration.String() for whole seconds and up (`0s`, `1m30s`, `2h0m0s`)."""
    secs = ms // 1000
    h, rem = divmod(secs, 3600)
    m, s = divmod(rem, 60)
    if h:
        return f"{h}h{m}m{s}s"
    if m:
        return f"{m}m{s}s"
    return f"{s}s"


def _fmt_alerts(items: list[tuple[Labels, Labels]]) -> str:
    parts = [
        f"{{Labels:{format_labels(lbl)} Annotations:{format_labels(ann)}}}" for lbl, ann in items
    ]
    return "[" + " ".join(parts) + "]"


def run_test_file(path: str | Path) -> TestOutcome:
    """Run every test case of a promtool rule unit-test file."""
    p = Path(path)
    outcome = TestOutcome(str(p))
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        rule_files = [str(p.parent / f) for f in doc.get("rule_files") or []]
        eval_interval = _dur(doc.get("evaluation_interval"), 60_000)
        specs = load_rule_files(rule_files)
    except RuleFileInvalid as exc:
        outcome.error = "\n".join(str(x) for x in exc.problems)
        return outcome
    except (OSError, yaml.YAMLError, ValueError, OpenManagerError) as exc:
        outcome.error = str(exc)
        return outcome
    order = doc.get("group_eval_order") or []
    if order:
        rank = {name: i for i, name in enumerate(order)}
        specs = sorted(specs, key=lambda s: rank.get(s.name, len(rank)))
    for i, case in enumerate(doc.get("tests") or []):
        try:
            outcome.failures.extend(_run_case(case, specs, eval_interval, i))
        except (ValueError, KeyError, TypeError, OpenManagerError) as exc:
            outcome.failures.append(f"test {i}: {exc}")
    return outcome


def _run_case(case: dict[str, Any], specs: list[Any], eval_interval: int, idx: int) -> list[str]:
    name = case.get("name") or f"#{idx}"
    interval = _dur(case.get("interval"), eval_interval)
    storage = MemoryStorage()
    items = []
    for s in case.get("input_series") or []:
        labels, _ = parse_series(str(s["series"]))
        points = parse_values(str(s.get("values", "")))
        stamps = [i * interval for i, pt in enumerate(points) if not pt.omitted]
        vs = [pt.value for pt in points if not pt.omitted]
        if stamps:
            items.append((labels, np.array(stamps, dtype=np.int64), np.array(vs)))
    if items:
        storage.append(SampleBatch.from_series(items))
    options = GroupOptions(
        external_labels={str(k): str(v) for k, v in (case.get("external_labels") or {}).items()},
        external_url=str(case.get("external_url") or ""),
    )
    groups = build_groups(specs, eval_interval, options, restored=True)
    engine = Engine(cast(Storage, storage))  # MemoryStorage has no maintenance to do
    query = engine_query(engine)
    alert_tests = sorted(case.get("alert_rule_test") or [], key=lambda t: _dur(t["eval_time"]))
    expr_tests = case.get("promql_expr_test") or []
    max_t = max([_dur(t["eval_time"]) for t in alert_tests + expr_tests] or [0])
    failures: list[str] = []
    nxt = 0
    ts = 0
    while ts <= max_t:
        errors: list[str] = []
        for g in groups:
            g.eval(ts, query, storage.append)
            errors.extend(
                f"    rule: {r.name}, time: {_fmt_dur(ts)}, err: {r.status.last_error}"
                for r in g.rules
                if r.status.last_error
            )
        if errors:  # promtool stops a test case at the first evaluation with rule errors
            return failures + errors
        while (
            nxt < len(alert_tests)
            and ts <= _dur(alert_tests[nxt]["eval_time"]) < ts + eval_interval
        ):
            failures.extend(_check_alerts(alert_tests[nxt], groups, name))
            nxt += 1
        ts += eval_interval
    for t in expr_tests:
        failures.extend(_check_expr(t, engine, name))
    return failures


def _check_alerts(test: dict[str, Any], groups: list[Any], name: str) -> list[str]:
    alertname = str(test["alertname"])
    got: list[tuple[Labels, Labels]] = []
    for g in groups:
        for r in g.rules:
            if isinstance(r, AlertingRule) and r.name == alertname:
                got.extend(
                    (a.labels, a.annotations)
                    for a in r.active.values()
                    if a.state == AlertState.FIRING
                )
    exp: list[tuple[Labels, Labels]] = []
    for e in test.get("exp_alerts") or []:
        lbl = {str(k): str(v) for k, v in (e.get("exp_labels") or {}).items()}
        lbl["alertname"] = alertname
        ann = {str(k): str(v) for k, v in (e.get("exp_annotations") or {}).items()}
        exp.append((tuple(sorted(lbl.items())), tuple(sorted(ann.items()))))
    got.sort()
    exp.sort()
    if got == exp:
        return []
    return [
        f"    name: {name},\n    alertname: {alertname}, time: {test['eval_time']}, \n"
        f"        exp:{_fmt_alerts(exp)}, \n        got:{_fmt_alerts(got)}"
    ]


def _same(a: float, b: float) -> bool:
    if math.isnan(a) and math.isnan(b):
        return True
    return a == b or math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0)


def _check_expr(test: dict[str, Any], engine: Engine, name: str) -> list[str]:
    expr = str(test["expr"])
    t = _dur(test["eval_time"])
    try:
        res = engine.instant_query(expr, t)
    except OpenManagerError as exc:
        return [f"    expr: {expr!r}, time: {test['eval_time']}, err: {exc.message}"]
    if res.type not in (ValueType.VECTOR, ValueType.SCALAR):
        return [f"    expr: {expr!r}, time: {test['eval_time']}, err: unsupported result type"]
    got = sorted((s.labels, float(s.values[0])) for s in res.series)
    exp = []
    for e in test.get("exp_samples") or []:
        text = str(e.get("labels") or "")
        labels = parse_series(text)[0] if text else ()
        exp.append((labels, float(e["value"])))
    exp.sort()
    ok = len(got) == len(exp) and all(
        g[0] == x[0] and _same(g[1], x[1]) for g, x in zip(got, exp, strict=True)
    )
    if ok:
        return []

    def show(items: list[tuple[Labels, float]]) -> str:
        return "\n".join(f"            {format_labels(lbl)} {v}" for lbl, v in items)

    return [
        f"    name: {name},\n    expr: {expr!r}, time: {test['eval_time']},\n"
        f"        exp:\n{show(exp)}\n        got:\n{show(got)}"
    ]
