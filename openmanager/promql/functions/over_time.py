"""`*_over_time` aggregations of each series' window: sums and means from extended-precision
prefix sums, min/max from a sparse table, first/last/count by index, absent/present by count.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from openmanager.promql.functions import experimental, register
from openmanager.promql.functions._common import (
    absent_labels,
    finish,
    range_arg,
    window_extreme,
    window_rows,
)
from openmanager.promql.functions._sums import window_means, window_sums
from openmanager.promql.functions.range_rate import apply_per_series
from openmanager.promql.types import (
    BoolArray,
    EvalContext,
    FunctionDef,
    RangeSeries,
    RangeVector,
    Value,
    ValueType,
)
from openmanager.samples import Float64Array, Int64Array

Reducer = Callable[[RangeSeries, Int64Array, Int64Array], Float64Array]
"""(series, lo, hi) -> one value per step, only read where the window is non-empty."""


def _over_time(reduce: Reducer) -> Callable[[EvalContext, Sequence[Value]], Value]:
    def kernel(
        rv: RangeVector, s: RangeSeries, lo: Int64Array, hi: Int64Array
    ) -> tuple[Float64Array, BoolArray]:
        ok = hi > lo
        return np.where(ok, reduce(s, lo, hi), np.nan), ok

    def impl(ctx: EvalContext, args: Sequence[Value]) -> Value:
        return apply_per_series(range_arg(args, 0), ctx.n_steps, kernel)

    return impl


def _safe(idx: Int64Array, ok: BoolArray) -> Int64Array:
    return np.where(ok, idx, 0)


def _first(s: RangeSeries, lo: Int64Array, hi: Int64Array) -> Float64Array:
    return s.values[_safe(lo, hi > lo)]


def _last(s: RangeSeries, lo: Int64Array, hi: Int64Array) -> Float64Array:
    return s.values[_safe(hi - 1, hi > lo)]


def _ts_first(s: RangeSeries, lo: Int64Array, hi: Int64Array) -> Float64Array:
    return s.timestamps[_safe(lo, hi > lo)] / 1000


def _ts_last(s: RangeSeries, lo: Int64Array, hi: Int64Array) -> Float64Array:
    return s.timestamps[_safe(hi - 1, hi > lo)] / 1000


def _ts_of_extreme(fn: np.ufunc) -> Reducer:
    """Timestamp of the last sample equal to the window's min/max (of the last one if all NaN)."""

    def reduce(s: RangeSeries, lo: Int64Array, hi: Int64Array) -> Float64Array:
        best = window_extreme(s.values, lo, hi, fn)
        out = np.full(len(lo), np.nan)
        for pos, idx in window_rows(lo, hi):
            target = best[pos][:, None]
            hit = (s.values[idx] == target) | np.isnan(target)
            last = idx.shape[1] - 1 - np.argmax(hit[:, ::-1], axis=1)
            out[pos] = s.timestamps[idx[np.arange(len(pos)), last]] / 1000
        return out

    return reduce


def _absent_over_time(ctx: EvalContext, args: Sequence[Value]) -> Value:
    rv = range_arg(args, 0)
    seen = np.zeros(ctx.n_steps, dtype=bool)
    for s in rv.series:
        lo, hi = rv.window_bounds(s)
        seen |= hi > lo
    labels = absent_labels(ctx, 0)
    return finish([labels], np.ones((1, ctx.n_steps)), ~seen[None, :], ctx.n_steps)


_REDUCERS: dict[str, Reducer] = {
    "sum_over_time": lambda s, lo, hi: window_sums(s.values, lo, hi),
    "avg_over_time": lambda s, lo, hi: window_means(s.values, lo, hi),
    "count_over_time": lambda s, lo, hi: (hi - lo).astype(np.float64),
    "min_over_time": lambda s, lo, hi: window_extreme(s.values, lo, hi, np.fmin),
    "max_over_time": lambda s, lo, hi: window_extreme(s.values, lo, hi, np.fmax),
    "present_over_time": lambda s, lo, hi: np.ones(len(lo)),
    "last_over_time": _last,
    "first_over_time": _first,
    "ts_of_first_over_time": _ts_first,
    "ts_of_last_over_time": _ts_last,
    "ts_of_min_over_time": _ts_of_extreme(np.fmin),
    "ts_of_max_over_time": _ts_of_extreme(np.fmax),
}
_KEEPS_NAME = {"last_over_time", "first_over_time"}
_EXPERIMENTAL = {"first_over_time"} | {n for n in _REDUCERS if n.startswith("ts_of_")}

for _name, _reduce in _REDUCERS.items():
    register(
        FunctionDef(
            _name,
            (ValueType.MATRIX,),
            ValueType.VECTOR,
            _over_time(_reduce),
            keeps_name=_name in _KEEPS_NAME,
            extra=experimental() if _name in _EXPERIMENTAL else {},
        )
    )
register(FunctionDef("absent_over_time", (ValueType.MATRIX,), ValueType.VECTOR, _absent_over_time))
