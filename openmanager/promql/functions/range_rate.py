"""Counter and gauge changes over range vectors: rate, increase, delta (with Prometheus 3's
extrapolation rules), irate, idelta, resets and changes.

Each function works per series on all steps at once: the window of step j is the sample index
range [lo[j], hi[j]); first/last samples are gathered by index and counter resets are added
back from prefix sums of the drops.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np

from openmanager.promql.functions import register
from openmanager.promql.functions._common import finish, pair_counts, range_arg
from openmanager.promql.functions._sums import window_sums
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
from openmanager.samples import Float64Array, Int64Array, Labels

SeriesFn = Callable[
    [RangeVector, RangeSeries, Int64Array, Int64Array], tuple[Float64Array, BoolArray]
]
"""Per-series kernel: (range vector, series, lo, hi) -> (values per step, present per step)."""


BATCH_SAMPLES = 1 << 16
"""Series are processed in batches of about this many samples (bounded memory and rounding)."""
BATCH_CELLS = 1 << 18
"""... and of at most this many series x steps result cells."""


def apply_per_series(rv: RangeVector, n_steps: int, fn: SeriesFn) -> StepVector:
    """Run a window kernel over every series of a range vector and stack the results.

    Series are concatenated into batches and handed to the kernel as one flat series with
    flat window bounds (windows never cross series) and the steps repeated per series, so the
    per-series Python cost is a few array appends, not a kernel call.
    """
    series = [s for s in rv.series if len(s.timestamps)]
    labels: list[Labels] = []
    rows_v: list[Float64Array] = []
    rows_p: list[BoolArray] = []
    with np.errstate(all="ignore"):
        for batch in _batches(series, n_steps):
            ts = np.concatenate([s.timestamps for s in batch])
            vs = np.concatenate([s.values for s in batch])
            lo, hi = _batch_bounds(batch, ts, rv)
            flat_rv = RangeVector([], np.tile(rv.steps, len(batch)), rv.range_ms, rv.closed)
            vals, pres = fn(flat_rv, RangeSeries((), ts, vs), lo.ravel(), hi.ravel())
            vals = vals.reshape(len(batch), n_steps)
            pres = pres.reshape(len(batch), n_steps)
            for i in np.flatnonzero(pres.any(axis=1)):
                labels.append(batch[i].labels)
                rows_v.append(vals[i])
                rows_p.append(pres[i])
    if not labels:
        return StepVector.empty(n_steps)
    return finish(labels, np.vstack(rows_v), np.vstack(rows_p), n_steps)


def _batches(series: list[RangeSeries], n_steps: int) -> Iterator[list[RangeSeries]]:
    batch: list[RangeSeries] = []
    samples = 0
    for s in series:
        if batch and (
            samples + len(s.timestamps) > BATCH_SAMPLES or (len(batch) + 1) * n_steps > BATCH_CELLS
        ):
            yield batch
            batch, samples = [], 0
        batch.append(s)
        samples += len(s.timestamps)
    if batch:
        yield batch


def _batch_bounds(
    batch: list[RangeSeries], ts: Int64Array, rv: RangeVector
) -> tuple[Int64Array, Int64Array]:
    """Window bounds [lo, hi) of every (series, step) into the concatenated samples.

    One searchsorted over keys (series number, time) when they fit in 62 bits, else per series.
    """
    left = rv.left
    if len(batch) == 1:  # long series come one per batch: no keys to build
        lo = np.searchsorted(ts, left, side="right")[None, :]
        hi = np.searchsorted(ts, rv.steps, side="right")[None, :]
        return lo.astype(np.int64), hi.astype(np.int64)
    lens = np.array([len(s.timestamps) for s in batch], dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(lens)[:-1]))
    base = min(int(ts.min()), int(left.min()) if len(left) else 0) - 1
    width = max(int(ts.max()), int(rv.steps.max()) if len(rv.steps) else 0) - base + 1
    if width * len(batch) < (1 << 62):
        keys = np.repeat(np.arange(len(batch), dtype=np.int64), lens) * width + (ts - base)
        rows = (np.arange(len(batch), dtype=np.int64) * width)[:, None]
        lo = np.searchsorted(keys, rows + (left - base)[None, :], side="right")
        hi = np.searchsorted(keys, rows + (rv.steps - base)[None, :], side="right")
        return lo.astype(np.int64), hi.astype(np.int64)
    los, his = [], []
    for s, start in zip(batch, starts, strict=True):
        lo1, hi1 = rv.window_bounds(s)
        los.append(lo1 + start)
        his.append(hi1 + start)
    return np.vstack(los), np.vstack(his)


def _extrapolated(is_counter: bool, is_rate: bool) -> SeriesFn:
    """Prometheus's `extrapolatedRate` for one series at every step."""

    def kernel(
        rv: RangeVector, s: RangeSeries, lo: Int64Array, hi: Int64Array
    ) -> tuple[Float64Array, BoolArray]:
        n = hi - lo
        ok = n >= 2
        first_i = np.where(ok, lo, 0)
        last_i = np.where(ok, hi - 1, 0)
        v, t = s.values, s.timestamps
        first, last = v[first_i], v[last_i]
        result = last - first
        if is_counter:
            # Add back the value before each reset, summed together with last - first so
            # that large cancelling terms do not cost digits.
            prev = np.concatenate(([np.nan], v[:-1]))
            drops = np.where(v < prev, prev, 0.0)
            start = np.minimum(lo + 1, np.maximum(hi, lo))
            end = np.maximum(hi, start)
            # Only windows that hold a reset need the sum; the rest keep last - first exactly.
            at = np.flatnonzero(drops)
            has = np.searchsorted(at, end) > np.searchsorted(at, start)
            if has.any():
                result = result.copy()
                result[has] = window_sums(drops, start[has], end[has], result[has])
        range_start = rv.steps - rv.range_ms
        to_start = (t[first_i] - range_start) / 1000
        to_end = (rv.steps - t[last_i]) / 1000
        sampled = (t[last_i] - t[first_i]) / 1000
        avg_gap = sampled / np.maximum(n - 1, 1)
        threshold = avg_gap * 1.1
        if not rv.closed:
            to_start = np.where(to_start >= threshold, avg_gap / 2, to_start)
        if is_counter:
            use_zero = (result > 0) & (first >= 0)
            to_zero = np.where(use_zero, sampled * (first / result), to_start)
            to_start = np.where(to_zero < to_start, to_zero, to_start)
        if rv.closed:  # Prometheus 2 clamped to the zero point before this test
            to_start = np.where(to_start >= threshold, avg_gap / 2, to_start)
        to_end = np.where(to_end >= threshold, avg_gap / 2, to_end)
        factor = (sampled + to_start + to_end) / sampled
        if is_rate:
            factor = factor / (rv.range_ms / 1000)
        return np.where(ok, result * factor, np.nan), ok

    return kernel


def _instant(is_rate: bool) -> SeriesFn:
    """`irate`/`idelta`: the last two samples of each window."""

    def kernel(
        rv: RangeVector, s: RangeSeries, lo: Int64Array, hi: Int64Array
    ) -> tuple[Float64Array, BoolArray]:
        ok = (hi - lo) >= 2
        b = np.where(ok, hi - 1, 0)
        a = np.where(ok, b - 1, 0)
        v, t = s.values, s.timestamps
        dt = t[b] - t[a]
        ok &= dt != 0
        if is_rate:
            # A counter reset keeps the last value; NaN compares false, so it propagates.
            diff = np.where(v[b] < v[a], v[b], v[b] - v[a])
            res = diff / (dt / 1000)
        else:
            res = v[b] - v[a]
        return np.where(ok, res, np.nan), ok

    return kernel


def _count_pairs(changes: bool) -> SeriesFn:
    """`resets` (a value below its predecessor) or `changes` (a different value, NaN == NaN)."""

    def kernel(
        rv: RangeVector, s: RangeSeries, lo: Int64Array, hi: Int64Array
    ) -> tuple[Float64Array, BoolArray]:
        v = s.values
        prev = np.concatenate(([v[0]], v[:-1]))
        if changes:
            mask = (v != prev) & ~(np.isnan(v) & np.isnan(prev))
        else:
            mask = v < prev
        counts = pair_counts(mask, lo, hi).astype(np.float64)
        ok = hi > lo
        return np.where(ok, counts, np.nan), ok

    return kernel


def _range_fn(kernel: SeriesFn) -> Callable[[EvalContext, Sequence[Value]], Value]:
    def impl(ctx: EvalContext, args: Sequence[Value]) -> Value:
        return apply_per_series(range_arg(args, 0), ctx.n_steps, kernel)

    return impl


_M, _V, _S = ValueType.MATRIX, ValueType.VECTOR, ValueType.SCALAR
for _name, _kernel in (
    ("rate", _extrapolated(is_counter=True, is_rate=True)),
    ("increase", _extrapolated(is_counter=True, is_rate=False)),
    ("delta", _extrapolated(is_counter=False, is_rate=False)),
    ("irate", _instant(is_rate=True)),
    ("idelta", _instant(is_rate=False)),
    ("resets", _count_pairs(changes=False)),
    ("changes", _count_pairs(changes=True)),
):
    register(FunctionDef(_name, (_M,), _V, _range_fn(_kernel)))
