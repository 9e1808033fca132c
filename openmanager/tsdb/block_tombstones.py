"""Tombstones: deleted time intervals per series of one block, applied at read time.

Blocks are immutable, so `delete` records (series ordinal -> inclusive intervals) in a small
`tombstones` file written atomically; compaction then drops the data physically.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt

from openmanager.errors import InvalidInput
from openmanager.samples import Int64Array
from openmanager.tsdb.block_format import write_file_atomic

Intervals = list[tuple[int, int]]
Tombstones = dict[int, Intervals]


def merge_intervals(intervals: Intervals) -> Intervals:
    """Sorted, non-overlapping, non-adjacent union of inclusive intervals."""
    out: Intervals = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def read_tombstones(path: Path) -> Tombstones:
    """Load a tombstones file; a missing file means nothing was deleted."""
    if not path.exists():
        return {}
    try:
        d = json.loads(path.read_text())
        return {int(k): [(int(a), int(b)) for a, b in v] for k, v in d["series"].items()}
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(f"damaged tombstones file {path}: {exc}") from exc


def write_tombstones(path: Path, tombstones: Tombstones) -> None:
    """Persist tombstones atomically (temp file, fsync, rename, fsync dir)."""
    body = {"version": 1, "series": {str(k): v for k, v in sorted(tombstones.items())}}
    write_file_atomic(path, json.dumps(body, separators=(",", ":")).encode())


def keep_mask(timestamps: Int64Array, intervals: Intervals) -> npt.NDArray[np.bool_]:
    """True for samples not covered by any interval."""
    keep = np.ones(len(timestamps), dtype=bool)
    for a, b in intervals:
        lo, hi = np.searchsorted(timestamps, [a, b + 1])
        keep[lo:hi] = False
    return keep


def covers(intervals: Intervals, start_ms: int, end_ms: int) -> bool:
    """Whether the intervals delete all of [start_ms, end_ms]."""
    return any(a <= start_ms and b >= end_ms for a, b in merge_intervals(intervals))
