"""Merge series read from several sources (blocks, head) into one sorted, deduplicated list."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from openmanager.samples import Labels
from openmanager.tsdb.storage import Series


def merge_one(parts: list[Series]) -> Series:
    """One series from pieces of it: timestamps ascending; on equal timestamps the first piece wins."""
    if len(parts) == 1:
        return parts[0]
    ts = np.concatenate([p.timestamps for p in parts])
    vals = np.concatenate([p.values for p in parts])
    order = np.argsort(ts, kind="stable")
    ts, vals = ts[order], vals[order]
    keep = np.ones(len(ts), dtype=bool)
    keep[1:] = ts[1:] != ts[:-1]
    return Series(parts[0].labels, ts[keep], vals[keep])


def merge_series(*sources: Iterable[Series]) -> list[Series]:
    """Series of all sources merged by labels, sorted by labels; empty series are dropped."""
    grouped: dict[Labels, list[Series]] = {}
    for source in sources:
        for s in source:
            if len(s.timestamps):
                grouped.setdefault(s.labels, []).append(s)
    return [merge_one(grouped[k]) for k in sorted(grouped)]
