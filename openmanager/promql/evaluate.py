"""The evaluator: walks our AST and computes every node over all steps of the query at once.

Selectors read storage once each for the whole span they need; subqueries run a nested
evaluator over steps aligned to absolute multiples of their resolution, as Prometheus does.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from openmanager.promql import aggregate, binary, selectors
from openmanager.promql import ast as A
from openmanager.promql.errors import QueryExecutionError, QueryTimeout, TooManySamples
from openmanager.promql.functions import FUNCTIONS
from openmanager.promql.types import (
    EvalContext,
    RangeSeries,
    RangeVector,
    StepScalar,
    StepVector,
    StringValue,
    Value,
)
from openmanager.promql.vector import drop_flags, drop_these
from openmanager.samples import METRIC_NAME, Int64Array
from openmanager.tsdb.matchers import Matcher
from openmanager.tsdb.storage import Series, Storage


class Budget:
    """Query-wide limits shared by nested evaluators: loaded samples and a deadline."""

    def __init__(self, max_samples: int, deadline: float | None) -> None:
        self.max_samples = max_samples
        self.deadline = deadline
        self.samples = 0
        self.warnings: list[str] = []
        self.infos: list[str] = []

    def charge(self, series: Sequence[Series]) -> None:
        self.samples += sum(len(s.timestamps) for s in series)
        if self.samples > self.max_samples:
            raise TooManySamples(
                "query processing would load too many samples into memory in query execution"
            )

    def check_time(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise QueryTimeout("query timed out in expression evaluation")


class Evaluator:
    """Evaluates expressions at `steps` (ms); `start_ms`/`end_ms` resolve `@ start()`/`end()`."""

    def __init__(
        self,
        storage: Storage,
        steps: Int64Array,
        start_ms: int,
        end_ms: int,
        lookback_ms: int,
        budget: Budget,
        default_subquery_step_ms: int = 60_000,
        closed: bool = False,
    ) -> None:
        self.storage = storage
        self.steps = np.asarray(steps, dtype=np.int64)
        self.start_ms = start_ms
        self.end_ms = end_ms
        self.lookback_ms = lookback_ms
        self.budget = budget
        self.default_subquery_step_ms = default_subquery_step_ms
        self.closed = closed
        self._open = 0 if closed else 1  # first ms a left-open window includes

    @property
    def n_steps(self) -> int:
        return len(self.steps)

    def eval(self, node: A.Node) -> Value:
        """Evaluate any node."""
        self.budget.check_time()
        if isinstance(node, A.NumberLiteral):
            return StepScalar(np.full(self.n_steps, node.value))
        if isinstance(node, A.StringLiteral):
            return StringValue(node.value)
        if isinstance(node, A.VectorSelector):
            return self.vector_selector(node)
        if isinstance(node, A.MatrixSelector):
            return self.matrix_selector(node)
        if isinstance(node, A.Subquery):
            return self.subquery(node)[0]
        if isinstance(node, A.Paren):
            return self.eval(node.expr)
        out: Value
        if isinstance(node, A.Unary):
            out = self.unary(node)
        elif isinstance(node, A.Binary):
            out = self.binary(node)
        elif isinstance(node, A.Aggregate):
            out = self.aggregate(node)
        elif isinstance(node, A.Call):
            out = self.call(node)
        else:
            raise QueryExecutionError(f"unhandled expression {type(node).__name__}")
        if isinstance(out, StepVector):
            out.sample_ts = None
        return out

    def vector(self, node: A.Node) -> StepVector:
        """Evaluate a node that must give an instant vector."""
        v = self.eval(node)
        if not isinstance(v, StepVector):
            raise QueryExecutionError(f"expected instant vector, got {type(v).__name__}")
        return v

    def scalar(self, node: A.Node) -> StepScalar:
        """Evaluate a node that must give a scalar."""
        v = self.eval(node)
        if not isinstance(v, StepScalar):
            raise QueryExecutionError(f"expected scalar, got {type(v).__name__}")
        return v

    def _ref_times(self, offset_ms: int, at: A.At | None) -> Int64Array:
        if at is None:
            return self.steps - offset_ms
        pinned = at.resolve(self.start_ms, self.end_ms)
        return np.full(self.n_steps, pinned - offset_ms, dtype=np.int64)

    def _fetch(self, sel: A.VectorSelector, start_ms: int, end_ms: int) -> list[Series]:
        found = selectors.fetch(self.storage, sel.matchers, start_ms, end_ms)
        self.budget.charge(found)
        return found

    def vector_selector(self, node: A.VectorSelector) -> StepVector:
        ref = self._ref_times(node.offset_ms, node.at)
        if self.n_steps == 0:
            return StepVector.empty(0)
        first = int(ref.min()) - self.lookback_ms + self._open
        series = self._fetch(node, first, int(ref.max()))
        return selectors.instant_vector(series, ref, self.lookback_ms, self.closed)

    def matrix_selector(self, node: A.MatrixSelector) -> RangeVector:
        sel = node.selector
        ref = self._ref_times(sel.offset_ms, sel.at)
        if self.n_steps == 0:
            return RangeVector([], ref, node.range_ms, self.closed)
        first = int(ref.min()) - node.range_ms + self._open
        series = self._fetch(sel, first, int(ref.max()))
        return selectors.range_vector(series, ref, node.range_ms, self.closed)

    def subquery(self, node: A.Subquery) -> tuple[RangeVector, StepVector | None]:
        """A subquery's samples as a range vector (and the inner vector, for its name flags)."""
        step = node.step_ms or self.default_subquery_step_ms
        ref = self._ref_times(node.offset_ms, node.at)
        if self.n_steps == 0:
            return RangeVector([], ref, node.range_ms, self.closed), None
        first = int(ref.min()) - node.range_ms
        start = step * int(first / step)  # Go truncates toward zero
        if start < first + self._open:
            start += step
        inner_steps = np.arange(start, int(ref.max()) + 1, step, dtype=np.int64)
        inner = Evaluator(
            self.storage,
            inner_steps,
            self.start_ms,
            self.end_ms,
            self.lookback_ms,
            self.budget,
            self.default_subquery_step_ms,
            self.closed,
        )
        value = inner.eval(node.expr)
        series: list[RangeSeries] = []
        vec: StepVector | None = None
        if isinstance(value, StepScalar):
            series.append(RangeSeries((), inner_steps, value.values))
        elif isinstance(value, StepVector):
            vec = value
            for i, lbl in enumerate(value.labels):
                p = value.present[i]
                series.append(RangeSeries(lbl, inner_steps[p], value.values[i][p]))
        else:
            raise QueryExecutionError("subquery is only allowed on instant vector or scalar")
        return RangeVector(series, ref, node.range_ms, self.closed), vec

    def unary(self, node: A.Unary) -> Value:
        v = self.eval(node.expr)
        if isinstance(v, StepScalar):
            return StepScalar(-v.values)
        if isinstance(v, StepVector):
            return StepVector(
                list(v.labels), -v.values, v.present, None, np.ones(len(v), dtype=bool)
            )
        raise QueryExecutionError("unary minus needs a scalar or an instant vector")

    def binary(self, node: A.Binary) -> Value:
        lhs = self.eval(node.lhs)
        rhs = self.eval(node.rhs)
        op = node.op
        if isinstance(lhs, StepScalar) and isinstance(rhs, StepScalar):
            return binary.scalar_scalar(op, lhs, rhs)
        if isinstance(lhs, StepVector) and isinstance(rhs, StepScalar):
            return binary.vector_scalar(op, lhs, rhs, False, node.return_bool)
        if isinstance(lhs, StepScalar) and isinstance(rhs, StepVector):
            return binary.vector_scalar(op, rhs, lhs, True, node.return_bool)
        if isinstance(lhs, StepVector) and isinstance(rhs, StepVector):
            if op in binary.SET_OPS:
                return binary.set_operation(op, lhs, rhs, node.matching)
            return binary.vector_vector(op, lhs, rhs, node.matching, node.return_bool)
        raise QueryExecutionError(f"operator {op!r} not allowed on these operands")

    def aggregate(self, node: A.Aggregate) -> StepVector:
        if node.op == "count_values":
            if not isinstance(node.param, A.StringLiteral):
                raise QueryExecutionError("count_values needs a string parameter")
            label = node.param.value
            if not label or "\x00" in label:
                raise QueryExecutionError(f'invalid label name "{label}"')
            return aggregate.count_values(
                label, self.vector(node.expr), node.grouping, node.without
            )
        param = None if node.param is None else self.scalar(node.param)
        vec = self.vector(node.expr)
        return aggregate.aggregate(node.op, vec, node.grouping, node.without, param)

    def call(self, node: A.Call) -> Value:
        fdef = FUNCTIONS.get(node.func)
        if fdef is None:
            raise QueryExecutionError(f"function {node.func!r} is not implemented")
        args: list[Value] = []
        for arg in node.args:
            args.append(self.eval(A.unwrap_parens(arg)))
        ctx = EvalContext(
            steps=self.steps,
            lookback_ms=self.lookback_ms,
            arg_matchers=tuple(_matchers_of(a) for a in node.args),
            warnings=self.budget.warnings,
            infos=self.budget.infos,
        )
        result = fdef.impl(ctx, args)
        if isinstance(result, StepVector):
            result.drop_name = self._call_drop_flags(node, fdef.keeps_name, args, result)
        return result

    def _call_drop_flags(
        self, node: A.Call, keeps_name: bool, args: Sequence[Value], result: StepVector
    ) -> np.ndarray:
        n = len(result)
        if not keeps_name:
            return np.ones(n, dtype=bool)
        source = next((a for a in args if isinstance(a, StepVector)), None)
        if source is None or not drop_flags(source).any():
            return np.zeros(n, dtype=bool)
        ignore: tuple[str, ...] = ()
        if node.func in ("label_replace", "label_join") and isinstance(args[1], StringValue):
            ignore = (args[1].value,)
            if args[1].value == METRIC_NAME:
                return np.zeros(n, dtype=bool)
        flags = {
            drop_these(lbl, ignore): bool(f)
            for lbl, f in zip(source.labels, drop_flags(source), strict=True)
        }
        return np.array(
            [flags.get(drop_these(lbl, ignore), False) for lbl in result.labels], dtype=bool
        )


def _matchers_of(arg: A.Node) -> tuple[Matcher, ...] | None:
    """A function argument's label matchers when it is a (parenthesised) selector."""
    arg = A.unwrap_parens(arg)
    if isinstance(arg, A.MatrixSelector):
        return arg.selector.matchers
    if isinstance(arg, A.VectorSelector):
        return arg.matchers
    return None
