"""Which samples of a sorted batch the head accepts, and why the others are not stored.

Vectorised over the batch: in-batch duplicates, future timestamps, samples at or before a
series' latest timestamp (duplicate, conflicting, out-of-order within the window, too old).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from openmanager.tsdb.head_run import Run
from openmanager.units import format_duration

if TYPE_CHECKING:
    from openmanager.tsdb.head import Head

BoolArray = npt.NDArray[np.bool_]
MAX_NAMED = 5
"""Per kind of rejection, how many distinct series are named in the error messages."""


@dataclass
class Verdict:
    """Accept mask over a sorted run, counts per reason, and messages naming series."""

    accept: BoolArray
    duplicates: int = 0
    out_of_order: int = 0
    too_old: int = 0
    too_far_in_future: int = 0
    errors: list[str] = field(default_factory=list)


def _explain(
    mask: BoolArray,
    run: Run,
    name: Callable[[int], str],
    message: Callable[[str, int], str],
) -> list[str]:
    """One message per distinct offending series (first sample of each), at most MAX_NAMED."""
    idx = np.flatnonzero(mask)
    if not len(idx):
        return []
    _, first = np.unique(run.refs[idx], return_index=True)
    picked = idx[np.sort(first)]
    out = [message(name(int(run.refs[i])), int(run.ts[i])) for i in picked[:MAX_NAMED]]
    hidden_series = len(picked) - MAX_NAMED
    if hidden_series > 0:
        out.append(f"... and {hidden_series} more series with the same problem")
    return out


def judge(head: Head, run: Run, now_ms: int, name: Callable[[int], str]) -> Verdict:
    """Decide sample by sample (vectorised) what the head stores from a sorted run."""
    n = len(run.refs)
    r, t = run.refs, run.ts
    bits = run.values.view(np.uint64)
    v = Verdict(np.zeros(n, dtype=bool))
    if n == 0:
        return v
    future = t > now_ms + head.future_tolerance_ms
    tol = format_duration(head.future_tolerance_ms)
    v.errors += _explain(
        future,
        run,
        name,
        lambda s, ts: (
            f"too far in the future: {s} sample at t={ts} is more than {tol} ahead of now"
        ),
    )

    # Duplicates inside the batch: the first copy of a (ref, ts) is judged, the rest are not.
    repeat = np.zeros(n, dtype=bool)
    repeat[1:] = (r[1:] == r[:-1]) & (t[1:] == t[:-1])
    first_of = np.maximum.accumulate(np.where(repeat, 0, np.arange(n)))
    same_as_first = bits == bits[first_of]
    in_dup = repeat & same_as_first & ~future
    in_conflict = repeat & ~same_as_first & ~future

    judged = ~repeat & ~future
    latest = head.max_ts_of(r)
    fresh = judged & (t > latest)
    at_latest = judged & (t == latest)
    dup_latest = at_latest & (bits == head.last_bits_of(r))
    conflict_latest = at_latest & ~dup_latest
    older = judged & (t < latest)
    with np.errstate(over="ignore"):
        too_old = older & (t < latest - head.ooo_window_ms)
    ooo = older & ~too_old

    dup_ooo = np.zeros(n, dtype=bool)
    conflict_ooo = np.zeros(n, dtype=bool)
    cand = np.flatnonzero(ooo)
    if len(cand):
        found, stored = head.columns.lookup(r[cand], t[cand])
        same = stored.view(np.uint64) == bits[cand]
        dup_ooo[cand[found & same]] = True
        conflict_ooo[cand[found & ~same]] = True

    conflict = in_conflict | conflict_latest | conflict_ooo
    v.accept = fresh | (ooo & ~dup_ooo & ~conflict_ooo)
    v.duplicates = int((in_dup | dup_latest | dup_ooo).sum())
    v.out_of_order = int(conflict.sum())
    v.too_old = int(too_old.sum())
    v.too_far_in_future = int(future.sum())
    v.errors += _explain(
        conflict,
        run,
        name,
        lambda s, ts: (
            f"duplicate sample for timestamp: {s} at t={ts} has a different value "
            "than the one already stored"
        ),
    )
    win = format_duration(head.ooo_window_ms)
    v.errors += _explain(
        too_old,
        run,
        name,
        lambda s, ts: (
            f"too old: {s} sample at t={ts} is more than the out-of-order window "
            f"({win}) behind the series' latest sample"
        ),
    )
    return v
