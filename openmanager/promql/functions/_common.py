"""Shared plumbing for the function library: argument coercion, result assembly, windows.

Range functions are computed over all steps at once: a window is the index range [lo, hi) of
raw samples; counts come from prefix sums, min/max from a sparse table, and functions that need
every sample of a window (quantiles, variance) stack windows of equal length into 2-D arrays.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from openmanager.promql.errors import QueryExecutionError
from openmanager.promql.types import (
    BoolArray,
    EvalContext,
    RangeVector,
    StepScalar,
    StepVector,
    StringValue,
    Value,
)
from openmanager.samples import METRIC_NAME, Float64Array, Int64Array, Labels, make_labels
from openmanager.tsdb.matchers import MatchType

GATHER_CHUNK = 1 << 22
"""Most samples stacked into one 2-D array of windows at once."""


def vector_arg(args: Sequence[Value], i: int) -> StepVector:
    """Argument i, which the parser guarantees to be an instant vector."""
    arg = args[i]
    if not isinstance(arg, StepVector):
        raise QueryExecutionError(f"expected an instant vector as argument {i + 1}")
    return arg


def range_arg(args: Sequence[Value], i: int) -> RangeVector:
    """Argument i, which the parser guarantees to be a range vector."""
    arg = args[i]
    if not isinstance(arg, RangeVector):
        raise QueryExecutionError(f"expected a range vector as argument {i + 1}")
    return arg


def scalar_arg(args: Sequence[Value], i: int, n_steps: int) -> Float64Array:
    """Argument i as one float per step."""
    arg = args[i]
    if not isinstance(arg, StepScalar):
        raise QueryExecutionError(f"expected a scalar as argument {i + 1}")
    return np.broadcast_to(np.asarray(arg.values, dtype=np.float64), (n_steps,))


def string_arg(args: Sequence[Value], i: int) -> str:
    """Argument i, which the parser guarantees to be a string literal."""
    arg = args[i]
    if not isinstance(arg, StringValue):
        raise QueryExecutionError(f"expected a string as argument {i + 1}")
    return arg.value


def per_step(values: npt.NDArray[Any], lo: Int64Array) -> npt.NDArray[Any]:
    """A per-step array repeated to match flat window bounds of several series."""
    return np.tile(values, len(lo) // max(len(values), 1))


def finish(
    labels: list[Labels],
    values: Float64Array,
    present: BoolArray,
    n_steps: int,
    drop_name: BoolArray | None = None,
) -> StepVector:
    """Assemble a result vector, leaving out series absent at every step."""
    if not labels:
        return StepVector.empty(n_steps)
    keep = present.any(axis=1)
    if keep.all():
        return StepVector(labels, values, present, drop_name=drop_name)
    idx = np.flatnonzero(keep)
    return StepVector(
        [labels[i] for i in idx],
        values[idx],
        present[idx],
        drop_name=None if drop_name is None else drop_name[idx],
    )


def map_values(
    vec: StepVector, values: Float64Array, present: BoolArray | None = None
) -> StepVector:
    """A vector with the input's series and new values (what element-wise functions return)."""
    pres = vec.present if present is None else present
    return finish(list(vec.labels), values, pres, vec.values.shape[1], vec.drop_name)


def window_counts(mask: BoolArray, lo: Int64Array, hi: Int64Array) -> Int64Array:
    """Per window, how many of mask[lo:hi] are set."""
    prefix = np.concatenate(([0], np.cumsum(mask, dtype=np.int64)))
    return np.asarray(prefix[hi] - prefix[lo], dtype=np.int64)


def pair_counts(mask: BoolArray, lo: Int64Array, hi: Int64Array) -> Int64Array:
    """Per window, how many consecutive sample pairs (i-1, i) inside it have mask[i] set.

    mask[i] describes the pair ending at sample i (mask[0] is ignored).
    """
    start = np.minimum(lo + 1, np.maximum(hi, lo))
    return window_counts(mask, start, np.maximum(hi, start))


def window_extreme(
    values: Float64Array, lo: Int64Array, hi: Int64Array, fn: np.ufunc
) -> Float64Array:
    """min/max (fn = np.fmin/np.fmax, so NaN only wins when alone) of each non-empty window.

    A sparse table of power-of-two blocks answers every window with two lookups.
    """
    n = len(values)
    out = np.full(len(lo), np.nan)
    ok = hi > lo
    if n == 0 or not ok.any():
        return out
    length = (hi - lo)[ok]
    level = np.floor(np.log2(length)).astype(np.int64)
    table: list[Float64Array] = [values]
    width = 1
    while width * 2 <= int(length.max()):
        prev = table[-1]
        table.append(fn(prev[: len(prev) - width], prev[width:]))
        width *= 2
    lo_ok, hi_ok = lo[ok], hi[ok]
    res = np.empty(len(lo_ok))
    for k in np.unique(level):
        sel = level == k
        row = table[int(k)]
        res[sel] = fn(row[lo_ok[sel]], row[hi_ok[sel] - (1 << int(k))])
    out[ok] = res
    return out


def window_rows(lo: Int64Array, hi: Int64Array) -> Iterator[tuple[Int64Array, Int64Array]]:
    """Non-empty windows grouped by length: (window positions, sample index matrix [G, L]).

    Regular scrapes give one or two distinct lengths, so whole groups of windows become one
    2-D array that row-wise NumPy reductions (sum, partition, sort) handle at once.
    """
    n = hi - lo
    for length in np.unique(n[n > 0]):
        pos = np.flatnonzero(n == length)
        per_chunk = max(1, GATHER_CHUNK // int(length))
        cols = np.arange(int(length), dtype=np.int64)
        for k in range(0, len(pos), per_chunk):
            part = pos[k : k + per_chunk]
            yield part, lo[part][:, None] + cols[None, :]


def rows_quantile(m: Float64Array, q: Float64Array) -> Float64Array:
    """Prometheus's `quantile(q, values)` of every row of m (NaN sorts first), q per row."""
    length = m.shape[1]
    nan = np.isnan(m)
    n_nan = nan.sum(axis=1)
    key = np.where(nan, -np.inf, m)
    with np.errstate(invalid="ignore"):
        rank = q * (length - 1)
        floor = np.floor(rank)
        lower = np.nan_to_num(np.clip(floor, 0, length - 1)).astype(np.int64)
        upper = np.minimum(length - 1, lower + 1)
        weight = rank - floor
        if (lower == lower[0]).all() and (upper == upper[0]).all():
            kth = sorted({int(lower[0]), int(upper[0])})
            ordered = np.partition(key, kth, axis=1)
        else:
            ordered = np.sort(key, axis=1)
        rows = np.arange(len(m))
        lv = np.where(lower < n_nan, np.nan, ordered[rows, lower])
        uv = np.where(upper < n_nan, np.nan, ordered[rows, upper])
        out = lv * (1 - weight) + uv * weight
    out = np.where(q < 0, -np.inf, out)
    out = np.where(q > 1, np.inf, out)
    return np.asarray(np.where(np.isnan(q), np.nan, out), dtype=np.float64)


def absent_labels(ctx: EvalContext, i: int) -> Labels:
    """Labels `absent()` gives its result: the selector's equality matchers, except that a
    label matched more than once (or also by another kind of matcher) is left out."""
    matchers = ctx.arg_matchers[i] if i < len(ctx.arg_matchers) else None
    if matchers is None:
        # An evaluator may instead hand over the labels it computed the same way.
        given = getattr(ctx, "absent_labels", None)
        if isinstance(given, tuple):
            return given
    out: dict[str, str] = {}
    seen: set[str] = set()
    for m in matchers or ():
        if m.name == METRIC_NAME:
            continue
        if m.type is MatchType.EQ and m.name not in seen:
            out[m.name] = m.value
            seen.add(m.name)
        else:
            out.pop(m.name, None)
    return make_labels(None, out)
