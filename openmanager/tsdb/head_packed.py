"""A compact form of a large sorted head run: 12 bytes per sample instead of 24.

Refs are stored once per series (CSR offsets) and timestamps as int32 offsets from the run's
first one. Used for the big merged runs of the head; small fresh runs stay loose.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from openmanager.samples import Float64Array, Int64Array
from openmanager.tsdb.head_run import Run, ranges_index

Int32Array = npt.NDArray[np.int32]
PACK_MIN = 4096
"""Runs smaller than this stay loose (packing them saves little and costs a conversion)."""
_I32_SPAN = 2**31 - 1


@dataclass(frozen=True)
class PackedRun:
    """A sorted run with refs as (unique refs, offsets) and timestamps as int32 deltas."""

    urefs: Int64Array
    offsets: Int64Array
    base: int
    dts: Int32Array
    values: Float64Array
    tmin: int
    tmax: int

    def __len__(self) -> int:
        return len(self.values)

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays."""
        return self.urefs.nbytes + self.offsets.nbytes + self.dts.nbytes + self.values.nbytes

    @classmethod
    def pack(cls, run: Run) -> PackedRun | None:
        """The packed form of a sorted run, or None when it would not be smaller or cannot be."""
        n = len(run.refs)
        if n < PACK_MIN:
            return None
        tmin, tmax = int(run.ts.min()), int(run.ts.max())
        if tmax - tmin > _I32_SPAN:
            return None
        starts = np.flatnonzero(np.r_[True, run.refs[1:] != run.refs[:-1]])
        if 16 * len(starts) >= 12 * n:
            return None
        offsets = np.r_[starts, n].astype(np.int64)
        dts = (run.ts - tmin).astype(np.int32)
        return cls(run.refs[starts], offsets, tmin, dts, run.values, tmin, tmax)

    def unpack(self) -> Run:
        """The loose (refs, ts, values) form."""
        refs = np.repeat(self.urefs, np.diff(self.offsets))
        return Run(refs, self.dts.astype(np.int64) + self.base, self.values)

    def gather(self, refs: Int64Array, start_ms: int, end_ms: int) -> Run:
        """Samples of the sorted unique refs with start <= t <= end, sorted by (ref, ts)."""
        pos = np.searchsorted(self.urefs, refs)
        ok = pos < len(self.urefs)
        ok[ok] = self.urefs[pos[ok]] == refs[ok]
        pos = pos[ok]
        lo, hi = self.offsets[pos], self.offsets[pos + 1]
        idx = ranges_index(lo, hi)
        ts = self.dts[idx].astype(np.int64) + self.base
        keep = (ts >= start_ms) & (ts <= end_ms)
        out_refs = np.repeat(refs[ok], hi - lo)[keep]
        return Run(out_refs, ts[keep], self.values[idx[keep]])

    def live_refs(self) -> Int64Array:
        """Refs with at least one sample in this run."""
        return self.urefs
