"""Window statistics that need every sample of a window: stddev/stdvar, quantile and median
absolute deviation over time, and double exponential smoothing.

Windows of equal length are stacked into 2-D arrays; variances use two passes around
an accurate mean, quantiles partition every row at once (NaN first, as Prometheus sorts).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from openmanager.promql.errors import QueryExecutionError
from openmanager.promql.functions import experimental, register
from openmanager.promql.functions._annotations import check_quantiles
from openmanager.promql.functions._common import (
    per_step,
    range_arg,
    rows_quantile,
    scalar_arg,
    window_rows,
)
from openmanager.promql.functions._sums import window_means
from openmanager.promql.functions.range_rate import apply_per_series
from openmanager.promql.types import (
    BoolArray,
    EvalContext,
    FunctionDef,
    RangeSeries,
    RangeVector,
    StepVector,
    Value,
    ValueType,
)
from openmanager.samples import Float64Array, Int64Array

_M, _V, _S = ValueType.MATRIX, ValueType.VECTOR, ValueType.SCALAR


def _variance(s: RangeSeries, lo: Int64Array, hi: Int64Array) -> Float64Array:
    """Population variance of each window (two passes around the extended-precision mean)."""
    mean = window_means(s.values, lo, hi)
    out = np.full(len(lo), np.nan)
    for pos, idx in window_rows(lo, hi):
        dev = s.values[idx] - mean[pos][:, None]
        out[pos] = (dev * dev).sum(axis=1) / idx.shape[1]
    return out


def _variance_fn(sqrt: bool) -> Callable[[EvalContext, Sequence[Value]], Value]:
    def kernel(
        rv: RangeVector, s: RangeSeries, lo: Int64Array, hi: Int64Array
    ) -> tuple[Float64Array, BoolArray]:
        ok = hi > lo
        var = _variance(s, lo, hi)
        return np.where(ok, np.sqrt(var) if sqrt else var, np.nan), ok

    def impl(ctx: EvalContext, args: Sequence[Value]) -> Value:
        return apply_per_series(range_arg(args, 0), ctx.n_steps, kernel)

    return impl


def _quantile_over_time(ctx: EvalContext, args: Sequence[Value]) -> Value:
    q = scalar_arg(args, 0, ctx.n_steps)
    rv = range_arg(args, 1)
    if rv.series:
        check_quantiles(ctx, q)

    def kernel(
        rv: RangeVector, s: RangeSeries, lo: Int64Array, hi: Int64Array
    ) -> tuple[Float64Array, BoolArray]:
        out = np.full(len(lo), np.nan)
        qs = per_step(q, lo)
        for pos, idx in window_rows(lo, hi):
            out[pos] = rows_quantile(s.values[idx], qs[pos])
        return out, hi > lo

    return apply_per_series(rv, ctx.n_steps, kernel)


def _mad(
    rv: RangeVector, s: RangeSeries, lo: Int64Array, hi: Int64Array
) -> tuple[Float64Array, BoolArray]:
    """Median of the absolute deviations from the window's median."""
    out = np.full(len(lo), np.nan)
    for pos, idx in window_rows(lo, hi):
        m = s.values[idx]
        half = np.full(len(pos), 0.5)
        median = rows_quantile(m, half)
        out[pos] = rows_quantile(np.abs(m - median[:, None]), half)
    return out, hi > lo


def _double_exponential_smoothing(ctx: EvalContext, args: Sequence[Value]) -> Value:
    rv = range_arg(args, 0)
    sf = scalar_arg(args, 1, ctx.n_steps)
    tf = scalar_arg(args, 2, ctx.n_steps)
    if not rv.series:
        return StepVector.empty(ctx.n_steps)
    bad_sf = ~((sf > 0) & (sf < 1))
    if bad_sf.any():
        got = float(sf[np.argmax(bad_sf)])
        raise QueryExecutionError(f"invalid smoothing factor. Expected: 0 < sf < 1, got: {got:f}")
    bad_tf = ~((tf > 0) & (tf < 1))
    if bad_tf.any():
        got = float(tf[np.argmax(bad_tf)])
        raise QueryExecutionError(f"invalid trend factor. Expected: 0 < tf < 1, got: {got:f}")

    def kernel(
        rv: RangeVector, s: RangeSeries, lo: Int64Array, hi: Int64Array
    ) -> tuple[Float64Array, BoolArray]:
        # The recurrence is sequential inside a window, so step through window positions,
        # all windows at once.
        n = hi - lo
        ok = n >= 2
        v = s.values
        sfs, tfs = per_step(sf, lo), per_step(tf, lo)
        first = np.where(ok, lo, 0)
        s0 = np.zeros(len(lo))
        s1 = v[first].copy()
        b = v[np.where(ok, lo + 1, 0)] - v[first]
        for i in range(1, int(n.max(initial=0))):
            act = ok & (n > i)
            x = sfs * v[np.where(act, lo + i, 0)]
            if i > 1:
                b = np.where(act, tfs * (s1 - s0) + (1 - tfs) * b, b)
            y = (1 - sfs) * (s1 + b)
            s0 = np.where(act, s1, s0)
            s1 = np.where(act, x + y, s1)
        return np.where(ok, s1, np.nan), ok

    return apply_per_series(rv, ctx.n_steps, kernel)


def _mad_over_time(ctx: EvalContext, args: Sequence[Value]) -> Value:
    return apply_per_series(range_arg(args, 0), ctx.n_steps, _mad)


register(FunctionDef("stddev_over_time", (_M,), _V, _variance_fn(sqrt=True)))
register(FunctionDef("stdvar_over_time", (_M,), _V, _variance_fn(sqrt=False)))
register(FunctionDef("quantile_over_time", (_S, _M), _V, _quantile_over_time))
register(FunctionDef("mad_over_time", (_M,), _V, _mad_over_time, extra=experimental()))
register(
    FunctionDef(
        "double_exponential_smoothing",
        (_M, _S, _S),
        _V,
        _double_exponential_smoothing,
        extra=experimental(),
    )
)
