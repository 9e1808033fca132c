"""Classic-histogram functions over `le` buckets: `histogram_quantile` (with Prometheus's
monotonicity fix and small-delta tolerance) and `histogram_fraction`.

Series are grouped by their labels without `le`; within a group the steps sharing the same set
of present buckets are computed together, one loop over buckets, vectorised across steps.
Native-histogram-only functions are registered too: this engine stores float samples only, and
Prometheus ignores float samples in them, so they return empty vectors.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence

import numpy as np

from openmanager.promql.functions import register
from openmanager.promql.functions._annotations import check_quantiles, info, warn
from openmanager.promql.functions._common import finish, scalar_arg, vector_arg
from openmanager.promql.types import (
    BoolArray,
    EvalContext,
    FunctionDef,
    StepVector,
    Value,
    ValueType,
)
from openmanager.samples import METRIC_NAME, Float64Array, Int64Array, Labels

_V, _S = ValueType.VECTOR, ValueType.SCALAR
BUCKET_LABEL = "le"
SMALL_DELTA_TOLERANCE = 1e-12
_MIN_NORMAL = float(np.finfo(np.float64).tiny)
_GO_FLOAT = re.compile(r"[+-]?(inf|infinity|nan|(\d+\.?\d*|\.\d+)(e[+-]?\d+)?)", re.IGNORECASE)

Kernel = Callable[[Float64Array, Float64Array, Int64Array], Float64Array]
"""(sorted upper bounds [B], cumulative counts [B, T'], steps) -> result per step [T']."""


@functools.lru_cache(maxsize=4096)
def parse_le(value: str) -> float | None:
    """The bucket bound of an `le` label as Go's ParseFloat reads it, None when invalid."""
    if not _GO_FLOAT.fullmatch(value):
        return None
    return float(value)


def almost_equal(a: Float64Array, b: Float64Array, epsilon: float) -> BoolArray:
    """Prometheus's `almost.Equal`, element-wise."""
    with np.errstate(invalid="ignore", over="ignore"):
        abs_sum = np.abs(a) + np.abs(b)
        diff = np.abs(a - b)
        tiny = (a == 0) | (b == 0) | (abs_sum < _MIN_NORMAL)
        rel = diff / np.minimum(abs_sum, np.finfo(np.float64).max) < epsilon
        close = np.where(tiny, diff < epsilon * _MIN_NORMAL, rel)
        return np.asarray((np.isnan(a) & np.isnan(b)) | (a == b) | close, dtype=bool)


def _coalesce(bounds: Float64Array, counts: Float64Array) -> tuple[Float64Array, Float64Array]:
    """Sort buckets by bound and add up buckets with the same bound (e.g. le="1" and "1.0")."""
    order = np.argsort(bounds, kind="stable")
    bounds, counts = bounds[order], counts[order]
    uniq, first = np.unique(bounds, return_index=True)
    if len(uniq) == len(bounds):
        return bounds, counts
    return uniq, np.add.reduceat(counts, first, axis=0)


def _ensure_monotonic(counts: Float64Array) -> bool:
    """Ignore relative deltas below the tolerance, then remove decreases (in place); returns
    whether a real decrease had to be removed."""
    prev = counts[0].copy()
    forced = False
    for i in range(1, len(counts)):
        curr = counts[i]
        close = almost_equal(prev, curr, SMALL_DELTA_TOLERANCE)
        drop = (curr != prev) & ~close & (curr < prev)
        forced = forced or bool(drop.any())
        counts[i] = np.where((curr != prev) & (close | drop), prev, curr)
        prev = counts[i].copy()
    return forced


def bucket_quantile(q: Float64Array, forced: list[bool]) -> Kernel:
    """Prometheus's BucketQuantile with the quantile given per step; appends to `forced`
    whether monotonicity had to be forced."""

    def kernel(bounds: Float64Array, counts: Float64Array, steps: Int64Array) -> Float64Array:
        qs = q[steps]
        n_buckets, width = counts.shape
        out = np.full(width, np.nan)
        if np.isposinf(bounds[-1]):
            counts = counts.copy()
            forced.append(_ensure_monotonic(counts))
        if np.isposinf(bounds[-1]) and n_buckets >= 2:
            with np.errstate(invalid="ignore", divide="ignore"):
                total = counts[-1]
                rank = qs * total
                hit = counts[:-1] >= rank[None, :]
                b = np.where(hit.any(axis=0), np.argmax(hit, axis=0), n_buckets - 1)
                prev = np.maximum(b - 1, 0)
                cols = np.arange(width)
                start = np.where(b > 0, bounds[prev], 0.0)
                below = np.where(b > 0, counts[prev, cols], 0.0)
                end = bounds[np.minimum(b, n_buckets - 1)]
                inside = counts[np.minimum(b, n_buckets - 1), cols] - below
                val = start + (end - start) * ((rank - below) / inside)
                val = np.where((b == 0) & (bounds[0] <= 0), bounds[0], val)
                val = np.where(b == n_buckets - 1, bounds[-2], val)
                out = np.where(total == 0, np.nan, val)
        out = np.where(qs < 0, -np.inf, out)
        out = np.where(qs > 1, np.inf, out)
        return np.asarray(np.where(np.isnan(qs), np.nan, out), dtype=np.float64)

    return kernel


def bucket_fraction(lower: Float64Array, upper: Float64Array) -> Kernel:
    """Fraction of observations in (lower, upper], interpolating linearly inside buckets.

    The lowest bucket starts at 0 when its bound is positive (as for quantiles); a bucket
    reaching down to -Inf counts its observations at its upper bound.
    """

    def kernel(bounds: Float64Array, counts: Float64Array, steps: Int64Array) -> Float64Array:
        lo_arg, hi_arg = lower[steps], upper[steps]
        width = counts.shape[1]
        if not np.isposinf(bounds[-1]):
            return np.full(width, np.nan)
        total = counts[-1]
        lbounds = np.concatenate(([0.0 if bounds[0] > 0 else -np.inf], bounds[:-1]))
        ranks = np.vstack([np.zeros((1, width)), counts[:-1]])
        with np.errstate(invalid="ignore", divide="ignore"):
            lo_rank = _rank_at(lo_arg, bounds, lbounds, ranks, counts, total)
            hi_rank = _rank_at(hi_arg, bounds, lbounds, ranks, counts, total)
            out = (hi_rank - lo_rank) / total
        out = np.where(lo_arg >= hi_arg, 0.0, out)
        bad = (total == 0) | np.isnan(lo_arg) | np.isnan(hi_arg)
        return np.asarray(np.where(bad, np.nan, out), dtype=np.float64)

    return kernel


def _rank_at(
    v: Float64Array,
    bounds: Float64Array,
    lbounds: Float64Array,
    ranks: Float64Array,
    counts: Float64Array,
    total: Float64Array,
) -> Float64Array:
    """Interpolated number of observations at or below v, per step."""
    above = bounds[:, None] > v[None, :]
    found = above.any(axis=0)
    i = np.argmax(above, axis=0)
    cols = np.arange(len(v))
    lb, ub = lbounds[i], bounds[i]
    r, c = ranks[i, cols], counts[i, cols]
    interp = r + (c - r) * (v - lb) / (ub - lb)
    rank = np.where((lb >= v) | np.isinf(lb), r, interp)
    rank = np.where(found, rank, total)
    return np.asarray(np.minimum(rank, total), dtype=np.float64)


def _group_buckets(
    ctx: EvalContext, vec: StepVector
) -> dict[Labels, tuple[list[int], list[float]]]:
    """Rows of each histogram (labels without `le`) and their bucket bounds; series without a
    valid `le` are skipped with Prometheus's warning."""
    groups: dict[Labels, tuple[list[int], list[float]]] = {}
    for row, labels in enumerate(vec.labels):
        le = next((v for k, v in labels if k == BUCKET_LABEL), "")
        bound = parse_le(le)
        if bound is None:
            name = next((v for k, v in labels if k == METRIC_NAME), "")
            warn(
                ctx,
                f'bucket label "le" is missing or has a malformed value of "{le}" '
                f'for metric name "{name}"',
            )
            continue
        key = tuple((k, v) for k, v in labels if k != BUCKET_LABEL)
        rows, bounds = groups.setdefault(key, ([], []))
        rows.append(row)
        bounds.append(bound)
    return groups


STACK_CELLS = 1 << 22
"""Most bucket x step cells of same-layout histograms computed in one kernel call."""


def apply_buckets(ctx: EvalContext, vec: StepVector, kernel: Kernel) -> StepVector:
    """Run a bucket kernel for every histogram.

    Histograms whose buckets are all present at every step and share their bounds (the usual
    case) are stacked side by side into one call; the others are computed per set of buckets
    present at a step.
    """
    n_steps = ctx.n_steps
    results: dict[Labels, tuple[Float64Array, BoolArray]] = {}
    layouts: dict[tuple[float, ...], list[tuple[Labels, Int64Array]]] = {}
    for key, (rows, bounds_list) in _group_buckets(ctx, vec).items():
        present = vec.present[rows]
        if present.all():
            order = np.argsort(bounds_list, kind="stable")
            layout = tuple(np.asarray(bounds_list, dtype=np.float64)[order].tolist())
            layouts.setdefault(layout, []).append((key, np.asarray(rows, dtype=np.int64)[order]))
            continue
        values: Float64Array = np.full(n_steps, np.nan)
        patterns, inverse = np.unique(present.T, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        bounds_all = np.asarray(bounds_list, dtype=np.float64)
        for k, pattern in enumerate(patterns):
            if not pattern.any():
                continue
            cols = np.flatnonzero(inverse == k)
            sel = np.asarray(rows)[pattern]
            bounds, counts = _coalesce(bounds_all[pattern], vec.values[sel][:, cols])
            values[cols] = kernel(bounds, counts, cols)
        results[key] = (values, np.asarray(present.any(axis=0), dtype=bool))
    for layout, members in layouts.items():
        bounds_all = np.asarray(layout, dtype=np.float64)
        per_chunk = max(1, STACK_CELLS // max(len(layout) * n_steps, 1))
        for start in range(0, len(members), per_chunk):
            chunk = members[start : start + per_chunk]
            stacked = vec.values[np.vstack([rows for _, rows in chunk])]  # [G, B, T]
            counts = stacked.transpose(1, 0, 2).reshape(len(layout), len(chunk) * n_steps)
            bounds, counts = _coalesce(bounds_all, counts)
            cols = np.tile(np.arange(n_steps, dtype=np.int64), len(chunk))
            stack_out = kernel(bounds, counts, cols).reshape(len(chunk), n_steps)
            for (key, _), row in zip(chunk, stack_out, strict=True):
                results[key] = (row, np.ones(n_steps, dtype=bool))
    if not results:
        return StepVector.empty(n_steps)
    labels = list(results)
    rows_v = np.vstack([results[k][0] for k in labels])
    rows_p = np.vstack([results[k][1] for k in labels])
    return finish(labels, rows_v, rows_p, n_steps)


def _histogram_quantile(ctx: EvalContext, args: Sequence[Value]) -> Value:
    q = scalar_arg(args, 0, ctx.n_steps)
    vec = vector_arg(args, 1)
    if len(vec):
        check_quantiles(ctx, q)
    fixed: list[bool] = []
    out = apply_buckets(ctx, vec, bucket_quantile(q, fixed))
    if any(fixed):
        info(
            ctx,
            "input to histogram_quantile needed to be fixed for monotonicity (see "
            "https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) "
            'for metric name ""',
        )
    return out


def _histogram_fraction(ctx: EvalContext, args: Sequence[Value]) -> Value:
    lower = scalar_arg(args, 0, ctx.n_steps)
    upper = scalar_arg(args, 1, ctx.n_steps)
    return apply_buckets(ctx, vector_arg(args, 2), bucket_fraction(lower, upper))


def _native_only(ctx: EvalContext, args: Sequence[Value]) -> Value:
    vector_arg(args, 0)
    return StepVector.empty(ctx.n_steps)


register(FunctionDef("histogram_quantile", (_S, _V), _V, _histogram_quantile))
register(FunctionDef("histogram_fraction", (_S, _S, _V), _V, _histogram_fraction))
for _name in (
    "histogram_count",
    "histogram_sum",
    "histogram_avg",
    "histogram_stddev",
    "histogram_stdvar",
):
    register(FunctionDef(_name, (_V,), _V, _native_only))
