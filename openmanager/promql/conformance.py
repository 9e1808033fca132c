"""Runs Prometheus's PromQL test scripts against our engine, case by case, as promqltest does.

Each `eval` becomes a `Case` holding the loads it sees; `run_case` loads them into a storage
from the given factory, evaluates, and compares like promqltest (relative tolerance 1e-6,
NaN equals NaN, order only for ordered evals, instant queries re-checked in range mode).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum

import numpy as np

from openmanager.errors import OpenManagerError
from openmanager.promql import ast as A
from openmanager.promql.engine import Engine, QueryResult
from openmanager.promql.parse import parse_expr
from openmanager.promql.testscript import Clear, Eval, Load, Point, parse_script
from openmanager.promql.types import ValueType
from openmanager.samples import Labels, SampleBatch, format_labels
from openmanager.tsdb.matchers import Matcher, matches_all
from openmanager.tsdb.storage import Storage

EPSILON = 1e-6
_MIN_NORMAL = 2.2250738585072014e-308
_CONTEXT_FUNCS = re.compile(r"(start|end|range|step)\(\)")
SKIP_FILES = {"native_histograms.test": "native histograms are out of scope"}
# Cases where we knowingly differ from Prometheus, keyed by case id, with the reason.
KNOWN_DEVIATIONS = {
    "functions.test:477": "promql-parser decodes the escape \\xff to U+00FF (valid UTF-8); "
    "Go keeps the invalid byte, so the label name is rejected there",
}


class Outcome(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"
    XFAIL = "xfail"


@dataclass
class Case:
    """One eval of one file, with the load commands in force when it runs."""

    file: str
    eval: Eval
    loads: list[Load] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.file}:{self.eval.line}"


@dataclass
class Result:
    outcome: Outcome
    message: str = ""


def cases_from_text(file: str, text: str) -> list[Case]:
    """All eval cases of one test file."""
    out: list[Case] = []
    loads: list[Load] = []
    for cmd in parse_script(text):
        if isinstance(cmd, Clear):
            loads = []
        elif isinstance(cmd, Load):
            loads = [*loads, cmd]
        else:
            out.append(Case(file, cmd, loads))
    return out


def load_batch(loads: list[Load]) -> SampleBatch:
    """The float samples of some load commands as one batch (histogram points left out)."""
    items = []
    for load in loads:
        for labels, points in load.series:
            keep = [
                (k * load.interval_ms, p.value)
                for k, p in enumerate(points)
                if not p.omitted and not p.histogram
            ]
            if keep:
                ts, vs = zip(*keep, strict=True)
                items.append((labels, np.array(ts, dtype=np.int64), np.array(vs, dtype=np.float64)))
    return SampleBatch.from_series(items)


def histogram_series(loads: list[Load]) -> list[Labels]:
    """Series that received native-histogram samples (or NHCB conversions) in these loads."""
    out = []
    for load in loads:
        for labels, points in load.series:
            if any(p.histogram for p in points):
                out.append(labels)
            if load.with_nhcb:
                name = dict(labels).get("__name__", "")
                for suffix in ("_bucket", "_count", "_sum"):
                    if name.endswith(suffix):
                        base = {k: v for k, v in labels if k != "le"}
                        base["__name__"] = name[: -len(suffix)]
                        out.append(tuple(sorted(base.items())))
    return out


def _selectors(node: A.Node) -> list[tuple[Matcher, ...]]:
    found: list[tuple[Matcher, ...]] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, A.VectorSelector):
            found.append(n.matchers)
        stack.extend(A.children(n))
    return found


def skip_reason(case: Case) -> str | None:
    """Why a case cannot apply to this engine (out-of-scope features), or None."""
    if case.file in SKIP_FILES:
        return SKIP_FILES[case.file]
    ev = case.eval
    if ev.has_histograms:
        return "expects native histogram values"
    try:
        parse_expr(ev.expr)
    except OpenManagerError as exc:
        if ev.fail:
            return None
        return f"promql-parser cannot parse it (experimental syntax): {exc}"
    return None


def touches_histograms(case: Case) -> bool:
    """Whether the query selects series that were loaded with native-histogram samples."""
    hist = histogram_series(case.loads)
    if not hist:
        return False
    node = parse_expr(case.eval.expr)
    return any(any(matches_all(lbl, m) for lbl in hist) for m in _selectors(node))


def almost_equal(a: float, b: float) -> bool:
    """promqltest's float comparison (Prometheus util/almost.Equal with epsilon 1e-6)."""
    if math.isnan(a) and math.isnan(b):
        return True
    if a == b:
        return True
    abs_sum = abs(a) + abs(b)
    diff = abs(a - b)
    if a == 0 or b == 0 or abs_sum < _MIN_NORMAL:
        return diff < EPSILON * _MIN_NORMAL
    return bool(diff / min(abs_sum, 1.7976931348623157e308) < EPSILON)


def _expected_points(ev: Eval, points: list[Point]) -> list[tuple[int, float]]:
    out = []
    for k, p in enumerate(points):
        if not p.omitted:
            out.append((ev.start_ms + k * ev.step_ms, p.value))
    return out


def compare(ev: Eval, res: QueryResult, *, ordered: bool) -> str | None:
    """Return a description of the first mismatch, or None when the result is as expected."""
    if res.type is ValueType.STRING:
        return None if ev.expect_string == res.string else f"expected string, got {res.string!r}"
    if res.type is ValueType.SCALAR:
        if ev.expect_scalar is None:
            return "expected vector or matrix result, but got a scalar"
        value = float(res.series[0].values[0])
        if almost_equal(ev.expect_scalar, value):
            return None
        return f"expected scalar {ev.expect_scalar} but got {value}"
    if ev.expect_scalar is not None:
        return f"expected scalar result, but got {res.type.value}"
    expected = {lbl: pts for lbl, pts in ev.expected}
    positions = {lbl: k for k, (lbl, _) in enumerate(ev.expected)}
    seen = set()
    for pos, s in enumerate(res.series):
        if s.labels not in expected:
            return f"unexpected metric {format_labels(s.labels)} in result, has {list(s.values)}"
        seen.add(s.labels)
        if ordered and positions[s.labels] != pos:
            return f"expected {format_labels(s.labels)} at position {positions[s.labels] + 1}, was {pos + 1}"
        if res.type is ValueType.VECTOR:
            want = expected[s.labels][0].value
            if not almost_equal(want, float(s.values[0])):
                return f"expected {want} for {format_labels(s.labels)} but got {s.values[0]}"
            continue
        exp = _expected_points(ev, expected[s.labels])
        points: list[tuple[int, float]] = list(
            zip(s.timestamps.tolist(), s.values.tolist(), strict=True)
        )
        if len(exp) != len(points) or any(
            te != tg or not almost_equal(ve, vg)
            for (te, ve), (tg, vg) in zip(exp, points, strict=True)
        ):
            return f"for {format_labels(s.labels)} expected {exp}, got {points}"
    missing = [lbl for lbl in expected if lbl not in seen]
    if missing:
        return f"expected metric {format_labels(missing[0])} not found"
    return None


def _check_failure(ev: Eval, exc: OpenManagerError) -> str | None:
    msg = exc.message
    if ev.fail_message is not None and ev.fail_message != msg:
        return f"expected error {ev.fail_message!r}, got {msg!r}"
    if ev.fail_regexp is not None and re.search(ev.fail_regexp, msg) is None:
        return f"expected error matching {ev.fail_regexp!r}, got {msg!r}"
    return None


def run_case(case: Case, storage: Storage, lookback_ms: int = 300_000) -> Result:
    """Evaluate one case over storage already holding its loads."""
    reason = skip_reason(case)
    if reason is not None:
        return Result(Outcome.SKIP, reason)
    result = _run(case, storage, lookback_ms)
    if result.outcome is Outcome.FAIL and touches_histograms(case):
        # Histogram samples are not loaded; a float-only answer that differs is out of scope.
        return Result(Outcome.SKIP, "selects series loaded with native histogram samples")
    if result.outcome is Outcome.FAIL and case.id in KNOWN_DEVIATIONS:
        return Result(Outcome.XFAIL, KNOWN_DEVIATIONS[case.id])
    return result


def _run(case: Case, storage: Storage, lookback_ms: int) -> Result:
    ev = case.eval
    engine = Engine(storage, lookback_ms)
    try:
        if ev.is_range:
            res = engine.range_query(ev.expr, ev.start_ms, ev.end_ms, ev.step_ms)
        else:
            res = engine.instant_query(ev.expr, ev.start_ms)
    except OpenManagerError as exc:
        if ev.fail:
            bad = _check_failure(ev, exc)
            return Result(Outcome.FAIL, bad) if bad else Result(Outcome.PASS)
        if "is not implemented" in exc.message:
            return Result(Outcome.XFAIL, exc.message)
        return Result(Outcome.FAIL, f"error evaluating {ev.expr!r}: {exc.message}")
    if ev.fail:
        return Result(Outcome.FAIL, f"expected an error evaluating {ev.expr!r} but got none")
    bad = compare(ev, res, ordered=ev.ordered and not ev.is_range)
    if bad:
        return Result(Outcome.FAIL, bad)
    if ev.is_range:
        return Result(Outcome.PASS)
    bad = _range_mode(engine, ev, ev.expr, ev.start_ms, res)
    if bad:
        return Result(Outcome.FAIL, f"range mode: {bad}")
    for node, t in at_modifier_variants(parse_expr(ev.expr), ev.start_ms):
        try:
            res = engine.instant_query(node, t)
        except OpenManagerError as exc:
            return Result(Outcome.FAIL, f"with @ {ev.start_ms} evaluated at {t}: {exc.message}")
        bad = compare(ev, res, ordered=ev.ordered) or _range_mode(engine, ev, node, t, res)
        if bad:
            return Result(Outcome.FAIL, f"with @ {ev.start_ms} evaluated at {t}: {bad}")
    return Result(Outcome.PASS)


AT_UNSAFE_FUNCTIONS = frozenset(
    {
        "days_in_month",
        "day_of_month",
        "day_of_week",
        "day_of_year",
        "hour",
        "minute",
        "month",
        "year",
        "predict_linear",
        "time",
        "timestamp",
    }
)


def _pin(node: A.Node, at: A.At) -> A.Node:
    """Give every selector and subquery without `@` the modifier, except under a pinned subquery."""
    if isinstance(node, A.VectorSelector):
        return node if node.at is not None else replace(node, at=at)
    if isinstance(node, A.MatrixSelector):
        sel = node.selector
        return node if sel.at is not None else replace(node, selector=replace(sel, at=at))
    if isinstance(node, A.Subquery):
        return node if node.at is not None else replace(node, at=at)
    if isinstance(node, A.Paren | A.Unary):
        return replace(node, expr=_pin(node.expr, at))
    if isinstance(node, A.Binary):
        return replace(node, lhs=_pin(node.lhs, at), rhs=_pin(node.rhs, at))
    if isinstance(node, A.Aggregate):
        param = None if node.param is None else _pin(node.param, at)
        return replace(node, expr=_pin(node.expr, at), param=param)
    if isinstance(node, A.Call):
        return replace(node, args=tuple(_pin(a, at) for a in node.args))
    return node


def _has_unsafe_call(node: A.Node) -> bool:
    if isinstance(node, A.Call) and node.func in AT_UNSAFE_FUNCTIONS:
        return True
    return any(_has_unsafe_call(c) for c in A.children(node))


def at_modifier_variants(node: A.Node, t: int) -> list[tuple[A.Node, int]]:
    """promqltest's extra instant checks: selectors pinned with `@ t`, evaluated at other times."""
    if _has_unsafe_call(node):
        return []
    pinned = _pin(node, A.At(A.AtKind.TIME, t))
    times = [-1000, 0, 1000] if t == 0 else [-10 * t, 0, int(t / 5), t, 10 * t]
    return [(pinned, et) for et in times]


def _range_mode(
    engine: Engine, ev: Eval, expr: str | A.Node, t: int, res: QueryResult
) -> str | None:
    """promqltest re-runs instant queries as a range query around t and checks the middle step."""
    if res.type not in (ValueType.VECTOR, ValueType.SCALAR):
        return None
    if _CONTEXT_FUNCS.search(ev.expr) or ev.ordered:
        return None
    try:
        rng = engine.range_query(expr, t - 60_000, t + 60_000, 60_000)
    except OpenManagerError as exc:
        return f"error {exc.message}"
    picked = []
    for s in rng.series:
        hit = np.flatnonzero(s.timestamps == t)
        if hit.size:
            i = int(hit[0])
            picked.append(type(s)(s.labels, s.timestamps[i : i + 1], s.values[i : i + 1]))
    if res.type is ValueType.SCALAR:
        if not picked:
            return "scalar missing"
        as_vec = QueryResult(ValueType.SCALAR, picked[:1])
        return compare(ev, as_vec, ordered=False)
    return compare(ev, QueryResult(ValueType.VECTOR, picked), ordered=False)


StorageFactory = Callable[[list[Load]], Storage]
