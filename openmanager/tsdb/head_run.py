"""A run of head samples: columns sorted by (series ref, timestamp), and how to sort them."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from openmanager.samples import Float64Array, Int64Array

BoolArray = npt.NDArray[np.bool_]
_I64_EMPTY: Int64Array = np.zeros(0, dtype=np.int64)


class Run(NamedTuple):
    """Samples sorted by (ref, ts); a (ref, ts) pair occurs at most once in the whole head."""

    refs: Int64Array
    ts: Int64Array
    values: Float64Array


def _empty_run() -> Run:
    return Run(_I64_EMPTY, _I64_EMPTY, np.zeros(0, dtype=np.float64))


def sort_order(refs: Int64Array, ts: Int64Array) -> Int64Array | None:
    """Stable order by (ref, ts), or None when already in order. One int64 key when it fits:
    timsort is then linear on a concatenation of sorted runs (the merge case)."""
    if len(refs) < 2:
        return None
    t_lo, t_hi = int(ts.min()), int(ts.max())
    span = t_hi - t_lo + 1
    if int(refs.min()) >= 0 and (int(refs.max()) + 1) * span < 2**62:
        key = refs * span + (ts - t_lo)
        if bool(np.all(key[1:] >= key[:-1])):
            return None
        order: Int64Array = np.argsort(key, kind="stable")
        return order
    if bool(np.all((refs[1:] > refs[:-1]) | ((refs[1:] == refs[:-1]) & (ts[1:] >= ts[:-1])))):
        return None
    return np.lexsort((ts, refs))


def sort_run(refs: Int64Array, ts: Int64Array, values: Float64Array) -> Run:
    """Sort columns by (ref, ts), stably (no copy when they already are)."""
    order = sort_order(refs, ts)
    if order is None:
        return Run(refs, ts, values)
    return Run(refs[order], ts[order], values[order])


def concat_sorted(runs: list[Run]) -> Run:
    """Merge several runs into one sorted run."""
    runs = [r for r in runs if len(r.refs)]
    if not runs:
        return _empty_run()
    if len(runs) == 1:
        return runs[0]
    return sort_run(
        np.concatenate([r.refs for r in runs]),
        np.concatenate([r.ts for r in runs]),
        np.concatenate([r.values for r in runs]),
    )


def ranges_index(lo: Int64Array, hi: Int64Array) -> Int64Array:
    """Concatenation of arange(lo[i], hi[i]) for all i, vectorised."""
    lengths = hi - lo
    total = int(lengths.sum())
    if total == 0:
        return _I64_EMPTY
    starts = np.cumsum(lengths) - lengths
    out: Int64Array = np.arange(total, dtype=np.int64) - np.repeat(starts - lo, lengths)
    return out
