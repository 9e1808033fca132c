"""The query engine: instant and range PromQL queries over any `Storage`, Prometheus-shaped results.

An instant query is a range query of one step. Errors are `InvalidInput` (bad query, `bad_data`),
`QueryExecutionError` (evaluation failed, `execution`) or `QueryTimeout`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

import openmanager.promql.functions as _functions  # noqa: F401 - the table the engine dispatches to
from openmanager.errors import InvalidInput, OpenManagerError
from openmanager.promql import ast as A
from openmanager.promql.errors import QueryExecutionError
from openmanager.promql.evaluate import Budget, Evaluator
from openmanager.promql.parse import parse_expr
from openmanager.promql.selectors import range_to_samples
from openmanager.promql.types import RangeVector, StepScalar, StepVector, StringValue, ValueType
from openmanager.promql.vector import build, drop_flags, finalize, without_name
from openmanager.samples import Float64Array, Int64Array, Labels
from openmanager.tsdb.storage import Storage

MAX_POINTS = 11_000


@dataclass
class ResultSeries:
    """One series of a result: its labels and (timestamp ms, value) points."""

    labels: Labels
    timestamps: Int64Array
    values: Float64Array


@dataclass
class QueryResult:
    """A query's value: `type` is vector, matrix, scalar or string (as Prometheus's API says).

    Scalars are one series with empty labels and one point; strings carry `string`.
    """

    type: ValueType
    series: list[ResultSeries] = field(default_factory=list)
    string: str | None = None
    time_ms: int = 0


class Engine:
    """PromQL over a storage backend, with Prometheus 3 semantics."""

    def __init__(
        self,
        storage: Storage,
        lookback_delta_ms: int = 300_000,
        *,
        max_samples: int = 50_000_000,
        timeout_s: float | None = 120.0,
        default_subquery_step_ms: int = 60_000,
        closed_windows: bool = False,
    ) -> None:
        """`closed_windows` evaluates as Prometheus 2 did (windows and lookback `[t - d, t]`,
        rate's zero-point clamp before its extrapolation test); only for comparing values with
        Prometheus 2 servers, e.g. Debian's 2.42 in `openmanager bench query`."""
        self.storage = storage
        self.closed_windows = closed_windows
        self.lookback_delta_ms = lookback_delta_ms
        self.max_samples = max_samples
        self.timeout_s = timeout_s
        self.default_subquery_step_ms = default_subquery_step_ms

    def _evaluator(
        self, steps: Int64Array, start: int, end: int, timeout_s: float | None = None
    ) -> Evaluator:
        limits = [t for t in (self.timeout_s, timeout_s) if t is not None]
        deadline = time.monotonic() + min(limits) if limits else None
        return Evaluator(
            self.storage,
            steps,
            start,
            end,
            self.lookback_delta_ms,
            Budget(self.max_samples, deadline),
            self.default_subquery_step_ms,
            self.closed_windows,
        )

    def instant_query(
        self, expr: str | A.Node, time_ms: int, *, timeout_s: float | None = None
    ) -> QueryResult:
        """Evaluate `expr` (text, or an already parsed expression) at one time.

        `timeout_s` shortens the engine's timeout for this query (it never lengthens it).
        """
        node = expr if isinstance(expr, A.Node) else parse_expr(expr)
        with _execution_errors():
            return self._instant(node, time_ms, timeout_s)

    def _instant(self, node: A.Node, time_ms: int, timeout_s: float | None) -> QueryResult:
        ev = self._evaluator(np.array([time_ms], dtype=np.int64), time_ms, time_ms, timeout_s)
        top = A.unwrap_parens(node)
        if isinstance(top, A.Subquery):
            rv, inner = ev.subquery(top)
            return _matrix_result(rv, inner, time_ms)
        value = ev.eval(node)
        if isinstance(value, StringValue):
            return QueryResult(ValueType.STRING, string=value.value, time_ms=time_ms)
        if isinstance(value, StepScalar):
            return QueryResult(
                ValueType.SCALAR, [_point((), time_ms, value.values[0])], time_ms=time_ms
            )
        if isinstance(value, RangeVector):
            return _matrix_result(value, None, time_ms)
        vec = finalize(value)
        out = [
            _point(lbl, time_ms, vec.values[i, 0])
            for i, lbl in enumerate(vec.labels)
            if vec.present[i, 0]
        ]
        return QueryResult(ValueType.VECTOR, out, time_ms=time_ms)

    def range_query(
        self,
        expr: str | A.Node,
        start_ms: int,
        end_ms: int,
        step_ms: int,
        *,
        timeout_s: float | None = None,
    ) -> QueryResult:
        """Evaluate `expr` at start, start+step, ... <= end; always a matrix."""
        if step_ms <= 0:
            raise InvalidInput(
                "zero or negative query resolution step widths are not accepted. "
                "Try a positive integer"
            )
        if end_ms < start_ms:
            raise InvalidInput("end timestamp must not be before start time")
        if (end_ms - start_ms) // step_ms + 1 > MAX_POINTS:
            raise InvalidInput(
                "exceeded maximum resolution of 11,000 points per timeseries. "
                "Try decreasing the query resolution (?step=XX)"
            )
        node = expr if isinstance(expr, A.Node) else parse_expr(expr)
        if node.type not in (ValueType.VECTOR, ValueType.SCALAR):
            raise InvalidInput(
                f'invalid expression type "{_type_name(node.type)}" for range query, '
                "must be Scalar or instant Vector"
            )
        steps = np.arange(start_ms, end_ms + 1, step_ms, dtype=np.int64)
        with _execution_errors():
            value = self._evaluator(steps, start_ms, end_ms, timeout_s).eval(node)
        if isinstance(value, StepScalar):
            return QueryResult(ValueType.MATRIX, [ResultSeries((), steps, value.values)])
        if not isinstance(value, StepVector):
            raise InvalidInput("range queries need a scalar or instant vector expression")
        vec = finalize(value)
        order = sorted(range(len(vec.labels)), key=lambda i: vec.labels[i])
        out = []
        for i in order:
            p = vec.present[i]
            if p.any():
                out.append(ResultSeries(vec.labels[i], steps[p], vec.values[i][p]))
        return QueryResult(ValueType.MATRIX, out)


@contextmanager
def _execution_errors() -> Iterator[None]:
    """Numeric failures inside evaluation (overflow, bad shapes) become `execution` errors."""
    try:
        yield
    except OpenManagerError:
        raise
    except (ArithmeticError, ValueError, IndexError, TypeError, MemoryError) as exc:
        raise QueryExecutionError(f"query evaluation failed: {exc}") from exc


def _type_name(t: ValueType) -> str:
    return {ValueType.MATRIX: "range vector", ValueType.STRING: "string"}.get(t, t.value)


def _point(labels: Labels, t: int, v: float) -> ResultSeries:
    return ResultSeries(labels, np.array([t], dtype=np.int64), np.array([v], dtype=np.float64))


def _matrix_result(rv: RangeVector, inner: StepVector | None, time_ms: int) -> QueryResult:
    """A range vector at an instant: raw samples per series, names dropped where flagged."""
    samples = range_to_samples(rv)
    if inner is not None and drop_flags(inner).any():
        flagged = {lbl for lbl, f in zip(inner.labels, drop_flags(inner), strict=True) if f}
        merged: dict[Labels, ResultSeries] = {}
        for s in samples:
            lbl = without_name(s.labels) if s.labels in flagged else s.labels
            if lbl in merged:
                prev = merged[lbl]
                if np.intersect1d(prev.timestamps, s.timestamps).size:
                    build([lbl, lbl], np.zeros((2, 1)), np.ones((2, 1), bool), np.zeros(2, bool))
                ts = np.concatenate([prev.timestamps, s.timestamps])
                vs = np.concatenate([prev.values, s.values])
                o = np.argsort(ts, kind="stable")
                merged[lbl] = ResultSeries(lbl, ts[o], vs[o])
            else:
                merged[lbl] = ResultSeries(lbl, s.timestamps, s.values)
        out = sorted(merged.values(), key=lambda s: s.labels)
    else:
        out = sorted(
            (ResultSeries(s.labels, s.timestamps, s.values) for s in samples),
            key=lambda s: s.labels,
        )
    return QueryResult(ValueType.MATRIX, out, time_ms=time_ms)
