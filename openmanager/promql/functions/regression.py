"""`deriv` and `predict_linear`: Prometheus's least-squares line through each window.

The four sums the regression needs (x, y, xy, xx with x in seconds from an origin) come from
extended-precision prefix sums per series, re-centred algebraically on each window's origin,
so the cost is linear in samples whatever the range/step ratio. Sparse windows, and windows whose
error bound is not small enough (or that hold NaN/Inf), sum their own samples instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from openmanager.promql.functions import register
from openmanager.promql.functions._common import (
    pair_counts,
    per_step,
    range_arg,
    scalar_arg,
    window_counts,
    window_rows,
)
from openmanager.promql.functions._segments import Segments, two_prod, two_sum
from openmanager.promql.functions._sums import ld_window_sums, use_prefix
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

_EPS = 4 * float(np.finfo(np.longdouble).eps)
_INT_ROOM = float(2**63) / 9
"""Windows whose n * max|t - origin|^2 (ms^2) reaches this could overflow the int64 time sums
(their intermediate terms stay below 9 times that)."""
_HUGE = 1e200
"""Values beyond this could overflow the segment path's products; such batches sum per window."""
_TRUSTED = 1e-11
"""Prefix-sum fits whose error bound exceeds this fraction of the result are recomputed."""

Sums = tuple[Float64Array, Float64Array, Float64Array, Float64Array, Float64Array]
"""n, sum x, sum y, sum xy, sum xx per window."""


def _line(
    sums: Sums, const_y: BoolArray, first_y: Float64Array
) -> tuple[Float64Array, Float64Array]:
    """Prometheus's float64 formula from the sums (slope per second, intercept at the origin)."""
    n, sx, sy, sxy, sxx = sums
    cov = sxy - sx * sy / n
    var = sxx - sx * sx / n
    slope = cov / var
    intercept = sy / n - slope * sx / n
    inf_y = np.isinf(first_y)
    slope = np.where(const_y, np.where(inf_y, np.nan, 0.0), slope)
    intercept = np.where(const_y, np.where(inf_y, np.nan, first_y), intercept)
    return slope, intercept


def _prefix_fit(
    s: RangeSeries, lo: Int64Array, hi: Int64Array, origin: Int64Array, horizon: Float64Array | None
) -> tuple[Float64Array, Float64Array, BoolArray]:
    """Slope and intercept from prefix sums, and which windows cannot be trusted."""
    ld = np.longdouble
    t0 = s.timestamps[0]
    u = (s.timestamps - t0).astype(ld) / 1000
    finite = np.isfinite(s.values)
    y = np.where(finite, s.values, 0.0).astype(ld)
    (su, sy, suy, suu), (mu, my, muy, muu) = ld_window_sums([u, y, u * y, u * u], lo, hi)
    n = (hi - lo).astype(ld)
    d = (origin - t0).astype(ld) / 1000
    sx = su - n * d
    sxy = suy - d * sy
    sxx = suu - 2 * d * su + n * d * d
    # Rounding error bounds of the re-centred sums.
    fd = np.abs(d).astype(np.float64)
    fn0 = n.astype(np.float64)
    e_x = _EPS * (mu + fn0 * fd)
    e_y = _EPS * my
    e_xy = _EPS * (muy + fd * my)
    e_xx = _EPS * (muu + 2 * fd * mu + fn0 * fd * fd)
    f = [np.asarray(a, dtype=ld).astype(np.float64) for a in (n, sx, sy, sxy, sxx)]
    with np.errstate(all="ignore"):
        first_y = s.values[np.where(hi > lo, lo, 0)]
        const_y = (
            pair_counts(s.values != np.concatenate(([s.values[0]], s.values[:-1])), lo, hi) == 0
        )
        slope, intercept = _line((f[0], f[1], f[2], f[3], f[4]), const_y, first_y)
        fn, fsx = f[0], np.abs(f[1])
        var = np.abs(f[4] - f[1] * f[1] / fn)
        e_var = e_xx.astype(np.float64) + 2 * fsx / fn * e_x.astype(np.float64)
        e_cov = (
            e_xy.astype(np.float64)
            + (fsx * e_y.astype(np.float64) + np.abs(f[2]) * e_x.astype(np.float64)) / fn
        )
        e_slope = (e_cov + np.abs(slope) * e_var) / var
        e_icpt = (
            e_y.astype(np.float64) / fn
            + (e_slope * fsx + np.abs(slope) * e_x.astype(np.float64)) / fn
        )
        if horizon is None:
            err, size = e_slope, np.abs(slope)
        else:
            err, size = e_slope * np.abs(horizon) + e_icpt, np.abs(slope * horizon + intercept)
        bad_window = window_counts(~finite, lo, hi) > 0
        suspect = ~const_y & ((err > _TRUSTED * size) | ~np.isfinite(err)) | bad_window
    return slope, intercept, suspect


PREFIX_FACTOR = 8.0
"""Regressions use long-double prefix sums only above this overlap (windows' samples over the
series' samples); below it, summing shared segments or each window costs less."""
SEGMENT_COSTS = (2, 40, 2)
"""Cost of a sample of the segments' span, of a segment and of a (window, segment) pair, in
gathered window samples (measured: 0.35, 7 and 0.3 us against 0.18 us per gathered sample)."""


def _worth_segments(lo: Int64Array, hi: Int64Array) -> Segments | None:
    """The windows' segments when summing them beats gathering every window's samples."""
    live = hi > lo
    if not live.any():
        return None
    per_span, per_segment, per_pair = SEGMENT_COSTS
    gathered = int((hi - lo)[live].sum())
    fixed = per_span * int(hi[live].max() - lo[live].min())
    if gathered <= fixed + per_segment * int(live.sum()):  # no fewer segments than windows
        return None
    seg = Segments.of(lo, hi)
    if gathered <= fixed + per_segment * len(seg.length) + per_pair * int(seg.count.sum()):
        return None
    return seg


def _segment_fit(
    s: RangeSeries, seg: Segments, lo: Int64Array, hi: Int64Array, origin: Int64Array
) -> tuple[Float64Array, Float64Array, BoolArray]:
    """Slope and intercept from per-segment sums (see `_segments`), and which windows must be
    summed on their own instead (non-finite values, or time offsets too large for int64).

    Time terms are summed exactly in integer milliseconds; y and (t - segment start) * y
    segment sums are error free, and each window re-centres them on its origin in
    double-double, so the four sums agree with Prometheus's Kahan sums to about an ulp.
    """
    a, b = seg.span
    ts, values = s.timestamps, s.values
    live = hi > lo
    first, last = np.where(live, lo, 0), np.where(live, hi - 1, 0)
    reach = np.maximum(np.abs(ts[first] - origin), np.abs(ts[last] - origin)).astype(np.float64)
    redo = live & ((hi - lo) * reach * reach >= _INT_ROOM)
    finite = np.isfinite(values)
    if not finite.all():
        redo |= window_counts(~finite, lo, hi) > 0
    y = np.where(finite[a:b], values[a:b], 0.0)
    if len(y) and np.abs(y).max() > _HUGE:
        return np.full(len(lo), np.nan), np.full(len(lo), np.nan), live
    ref = np.concatenate((ts[seg.bounds[:-1]], np.zeros(1, np.int64)))
    v = ts[a:b] - np.repeat(ref[:-1], seg.length[:-1])
    sv, svv = seg.int_sums(v), seg.int_sums(v * v)
    hy, ly = seg.exact_sums(y)
    hp, lp = seg.exact_sums(v.astype(np.float64) * y)
    sum_t = np.zeros(len(lo), np.int64)
    sum_tt = np.zeros(len(lo), np.int64)
    sy, cy, sxy, cxy = (np.zeros(len(lo)) for _ in range(4))
    empty = len(seg.length) - 1
    for j in range(int(seg.count.max(initial=0))):
        act = seg.count > j
        k = np.where(act, seg.first + j, empty)
        d = np.where(act, ref[k] - origin, 0).astype(np.int64)
        m = seg.length[k]
        sum_t += sv[k] + m * d
        sum_tt += svv[k] + 2 * d * sv[k] + m * d * d
        df = d.astype(np.float64)
        p, e = two_prod(df, hy[k])
        for term in (hy[k], ly[k]):
            sy, err = two_sum(sy, term)
            cy += err
        for term in (hp[k], lp[k], p, e + df * ly[k]):
            sxy, err = two_sum(sxy, term)
            cxy += err
    n = (hi - lo).astype(np.float64)
    sums = (n, sum_t / 1e3, sy + cy, (sxy + cxy) / 1e3, sum_tt.astype(np.float64) / 1e6)
    const_y = pair_counts(values != np.concatenate((values[:1], values[:-1])), lo, hi) == 0
    slope, intercept = _line(sums, const_y, values[first])
    return slope, intercept, redo


def _rows_fit(
    s: RangeSeries, lo: Int64Array, hi: Int64Array, origin: Int64Array
) -> tuple[Float64Array, Float64Array]:
    """Slope and intercept summing each window's own samples (as Prometheus; O(window))."""
    slope = np.full(len(lo), np.nan)
    intercept = np.full(len(lo), np.nan)
    for pos, idx in window_rows(lo, hi):
        x = (s.timestamps[idx] - origin[pos][:, None]) / 1e3
        y = s.values[idx]
        n = np.full(len(pos), float(idx.shape[1]))
        sums = (n, x.sum(axis=1), y.sum(axis=1), (x * y).sum(axis=1), (x * x).sum(axis=1))
        const_y = (y == y[:, :1]).all(axis=1)
        slope[pos], intercept[pos] = _line(sums, const_y, y[:, 0])
    return slope, intercept


def regression(
    s: RangeSeries,
    lo: Int64Array,
    hi: Int64Array,
    origin: Int64Array,
    horizon: Float64Array | None = None,
) -> tuple[Float64Array, Float64Array, BoolArray]:
    """Least-squares slope (per second) and intercept at `origin` (ms) of each window with at
    least two samples; `horizon` (s) says how the result will be used, for the error check."""
    ok = (hi - lo) >= 2
    lo_ok, hi_ok = np.where(ok, lo, 0), np.where(ok, hi, 0)
    with np.errstate(all="ignore"):
        if use_prefix(lo_ok, hi_ok, len(s.values), PREFIX_FACTOR):
            slope, intercept, suspect = _prefix_fit(s, lo_ok, hi_ok, origin, horizon)
        elif (seg := _worth_segments(lo_ok, hi_ok)) is not None:
            slope, intercept, suspect = _segment_fit(s, seg, lo_ok, hi_ok, origin)
        else:
            slope, intercept = _rows_fit(s, lo_ok, hi_ok, origin)
            return slope, intercept, ok
        redo = np.flatnonzero(suspect & ok)
        if len(redo):
            slope[redo], intercept[redo] = _rows_fit(s, lo_ok[redo], hi_ok[redo], origin[redo])
    return slope, intercept, ok


def _deriv(
    rv: RangeVector, s: RangeSeries, lo: Int64Array, hi: Int64Array
) -> tuple[Float64Array, BoolArray]:
    # Prometheus regresses around the window's first sample to keep the sums small.
    origin = s.timestamps[np.where(hi > lo, lo, 0)]
    slope, _, ok = regression(s, lo, hi, origin)
    return np.where(ok, slope, np.nan), ok


def _deriv_fn(ctx: EvalContext, args: Sequence[Value]) -> Value:
    return apply_per_series(range_arg(args, 0), ctx.n_steps, _deriv)


def _predict_linear(ctx: EvalContext, args: Sequence[Value]) -> Value:
    rv = range_arg(args, 0)
    horizon = scalar_arg(args, 1, ctx.n_steps)
    eval_ts = np.asarray(ctx.steps, dtype=np.int64)

    def kernel(
        rv: RangeVector, s: RangeSeries, lo: Int64Array, hi: Int64Array
    ) -> tuple[Float64Array, BoolArray]:
        # The intercept is taken at the evaluation time, not at the (offset/@) window end.
        h = per_step(horizon, lo)
        slope, intercept, ok = regression(s, lo, hi, per_step(eval_ts, lo), h)
        return np.where(ok, slope * h + intercept, np.nan), ok

    return apply_per_series(rv, ctx.n_steps, kernel)


register(FunctionDef("deriv", (ValueType.MATRIX,), ValueType.VECTOR, _deriv_fn))
register(
    FunctionDef(
        "predict_linear", (ValueType.MATRIX, ValueType.SCALAR), ValueType.VECTOR, _predict_linear
    )
)
