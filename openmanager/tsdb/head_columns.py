"""The head's samples: append-only columnar runs, each sorted by (series ref, timestamp).

One run per appended batch; runs of similar size are merged four at a time (a base-4 counter)
so there are only O(log n) of them, and big ones are packed (`head_packed`). No Python object
per series or per sample: everything is NumPy.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from openmanager.samples import Float64Array, Int64Array
from openmanager.tsdb.head_packed import PackedRun
from openmanager.tsdb.head_run import Run, concat_sorted, ranges_index

BoolArray = npt.NDArray[np.bool_]
AnyRun = Run | PackedRun
_I64_EMPTY: Int64Array = np.zeros(0, dtype=np.int64)
_FAN_IN = 4
"""Runs of similar size merged at once: each sample is re-sorted log4(n) times, not log2(n),
for about as many runs (3 per size class instead of 1-2)."""


def _loose(run: AnyRun) -> Run:
    return run.unpack() if isinstance(run, PackedRun) else run


def _size(run: AnyRun) -> int:
    return len(run) if isinstance(run, PackedRun) else len(run.refs)


def _compact(run: Run) -> AnyRun:
    return PackedRun.pack(run) or run


class Columns:
    """All samples in the head, as a few sorted runs (loose or packed)."""

    def __init__(self) -> None:
        self._runs: list[AnyRun] = []
        self._span: tuple[int, int] | None = None

    @property
    def runs(self) -> list[AnyRun]:
        """The sorted runs, oldest first."""
        return self._runs

    @runs.setter
    def runs(self, runs: list[AnyRun]) -> None:
        self._runs = [r if isinstance(r, PackedRun) else _compact(r) for r in runs if _size(r)]
        spans = [_span_of(r) for r in self._runs]
        self._span = (min(a for a, _ in spans), max(b for _, b in spans)) if spans else None

    def __len__(self) -> int:
        return sum(_size(r) for r in self._runs)

    @property
    def nbytes(self) -> int:
        """Bytes held by the sample arrays."""
        return sum(
            r.nbytes if isinstance(r, PackedRun) else r.refs.nbytes + r.ts.nbytes + r.values.nbytes
            for r in self._runs
        )

    def add(self, run: Run) -> None:
        """Append a sorted run; merge the newest runs while they are of similar size."""
        if not len(run.refs):
            return
        lo, hi = int(run.ts.min()), int(run.ts.max())
        self._span = (
            (lo, hi) if self._span is None else (min(lo, self._span[0]), max(hi, self._span[1]))
        )
        runs = self._runs
        runs.append(_compact(run))
        while len(runs) >= _FAN_IN and _size(runs[-_FAN_IN]) <= 2 * _size(runs[-1]):
            merged = concat_sorted([_loose(r) for r in runs[-_FAN_IN:]])
            runs[-_FAN_IN:] = [_compact(merged)]

    def time_range(self) -> tuple[int, int] | None:
        """(min, max) timestamp in the head, or None when empty (kept up to date, O(1))."""
        return self._span

    def gather(self, refs: Int64Array, start_ms: int, end_ms: int) -> Run:
        """Samples of the given sorted unique refs with start <= t <= end, sorted by (ref, ts)."""
        parts = []
        for run in self._runs:
            if isinstance(run, PackedRun):
                parts.append(run.gather(refs, start_ms, end_ms))
                continue
            lo = np.searchsorted(run.refs, refs, "left")
            hi = np.searchsorted(run.refs, refs, "right")
            idx = ranges_index(lo.astype(np.int64), hi.astype(np.int64))
            if not len(idx):
                continue
            ts = run.ts[idx]
            keep = (ts >= start_ms) & (ts <= end_ms)
            idx = idx[keep]
            parts.append(Run(run.refs[idx], ts[keep], run.values[idx]))
        return concat_sorted(parts)

    def lookup(self, refs: Int64Array, ts: Int64Array) -> tuple[BoolArray, Float64Array]:
        """For each (refs[i], ts[i]): whether the head holds it, and the stored value."""
        n = len(refs)
        found = np.zeros(n, dtype=bool)
        stored = np.zeros(n, dtype=np.float64)
        if n == 0:
            return found, stored
        have = self.gather(np.unique(refs), int(ts.min()), int(ts.max()))
        m = len(have.refs)
        if m == 0:
            return found, stored
        # Sort stored samples and queries together; a query directly after its stored twin hits.
        all_r = np.concatenate([have.refs, refs])
        all_t = np.concatenate([have.ts, ts])
        origin = np.concatenate([np.zeros(m, dtype=np.int8), np.ones(n, dtype=np.int8)])
        order = np.lexsort((origin, all_t, all_r))
        r_s, t_s, o_s = all_r[order], all_t[order], origin[order]
        hit = np.zeros(len(order), dtype=bool)
        hit[1:] = (o_s[1:] == 1) & (o_s[:-1] == 0) & (r_s[1:] == r_s[:-1]) & (t_s[1:] == t_s[:-1])
        pos = np.flatnonzero(hit)
        query_idx = order[pos] - m
        found[query_idx] = True
        stored[query_idx] = have.values[order[pos - 1]]
        return found, stored

    def count_before(self, before_ms: int) -> int:
        """How many samples have t < before (no copy of runs wholly on one side)."""
        n = 0
        for packed in self._runs:
            lo, hi = _span_of(packed)
            if hi < before_ms:
                n += _size(packed)
            elif lo < before_ms:
                n += int(np.count_nonzero(_loose(packed).ts < before_ms))
        return n

    def split(self, before_ms: int) -> tuple[Run, list[AnyRun]]:
        """(samples with t < before, sorted) and the runs that would remain."""
        taken, kept = self.split_parts(before_ms)
        return concat_sorted(taken), kept

    def split_parts(self, before_ms: int) -> tuple[list[Run], list[AnyRun]]:
        """Like `split`, but the samples before as sorted parts (merge them with concat_sorted)."""
        taken: list[Run] = []
        kept: list[AnyRun] = []
        for packed in self._runs:
            if _span_of(packed)[0] >= before_ms:
                kept.append(packed)
                continue
            run = _loose(packed)
            early = run.ts < before_ms
            taken.append(Run(run.refs[early], run.ts[early], run.values[early]))
            late = ~early
            if late.any():
                kept.append(Run(run.refs[late], run.ts[late], run.values[late]))
        return taken, kept

    def delete(self, refs: Int64Array, start_ms: int, end_ms: int) -> Int64Array:
        """Remove samples of the sorted refs in [start, end]; returns the refs that lost some."""
        touched = []
        kept: list[AnyRun] = []
        for packed in self._runs:
            run = _loose(packed)
            pos = np.searchsorted(refs, run.refs)
            pos = np.minimum(pos, max(len(refs) - 1, 0))
            member = (refs[pos] == run.refs) if len(refs) else np.zeros(len(run.refs), bool)
            drop = member & (run.ts >= start_ms) & (run.ts <= end_ms)
            if drop.any():
                touched.append(np.unique(run.refs[drop]))
                keep = ~drop
                kept.append(Run(run.refs[keep], run.ts[keep], run.values[keep]))
            else:
                kept.append(packed)
        self.runs = kept
        return np.unique(np.concatenate(touched)) if touched else _I64_EMPTY

    def live_refs(self) -> Int64Array:
        """Sorted refs that have at least one sample."""
        if not self._runs:
            return _I64_EMPTY
        parts = [
            r.live_refs() if isinstance(r, PackedRun) else np.unique(r.refs) for r in self._runs
        ]
        return np.unique(np.concatenate(parts))

    def iter_slices(self, size: int) -> Iterator[Run]:
        """The runs cut into pieces of at most `size` samples (for checkpoints)."""
        for packed in self._runs:
            run = _loose(packed)
            for lo in range(0, len(run.refs), size):
                yield Run(
                    run.refs[lo : lo + size], run.ts[lo : lo + size], run.values[lo : lo + size]
                )


def _span_of(run: AnyRun) -> tuple[int, int]:
    if isinstance(run, PackedRun):
        return run.tmin, run.tmax
    return int(run.ts.min()), int(run.ts.max())
