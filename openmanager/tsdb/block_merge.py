"""Merge one tier's blocks into a single stream of series: used by queries and compaction.

Overlapping blocks (late samples, re-computed rollups) are merged per series; on equal
timestamps the newest block (highest ULID) wins, so a duplicate is kept exactly once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from openmanager.samples import Int64Array, Labels
from openmanager.tsdb.block import Block, Columns
from openmanager.tsdb.matchers import Matcher

Part = tuple[Int64Array, Columns]


def merge_parts(parts: Sequence[Part]) -> Part:
    """Merge per-block pieces of one series given oldest block first; newest wins on ties."""
    parts = [p for p in parts if len(p[0])]
    if not parts:
        return np.zeros(0, dtype=np.int64), np.zeros((1, 0))
    if len(parts) == 1:
        return parts[0]
    by_time = sorted(parts, key=lambda p: int(p[0][0]))
    if all(int(x[0][-1]) < int(y[0][0]) for x, y in zip(by_time, by_time[1:], strict=False)):
        return (
            np.concatenate([p[0] for p in by_time]),
            np.concatenate([p[1] for p in by_time], axis=1),
        )
    ts = np.concatenate([p[0] for p in parts])
    cols = np.concatenate([p[1] for p in parts], axis=1)
    order = np.argsort(ts, kind="stable")
    ts, cols = ts[order], cols[:, order]
    keep = np.ones(len(ts), dtype=bool)
    keep[:-1] = ts[1:] != ts[:-1]  # keep the last of equal timestamps: the newest block's
    return ts[keep], cols[:, keep]


def iter_merged(
    blocks: Sequence[Block],
    matchers: Sequence[Matcher],
    start_ms: int,
    end_ms: int,
) -> Iterator[tuple[Labels, Int64Array, Columns]]:
    """Every matching series with samples in [start_ms, end_ms], in label order, merged."""
    ordered = sorted((b for b in blocks if b.meta.overlaps(start_ms, end_ms)), key=lambda b: b.id)
    where: dict[Labels, list[tuple[int, int]]] = {}
    for pos, block in enumerate(ordered):
        labels = block.labels
        for ordinal in block.select(matchers, start_ms, end_ms).tolist():
            where.setdefault(labels[ordinal], []).append((pos, ordinal))
    for lbl in sorted(where):
        parts = [ordered[pos].read(ordinal, start_ms, end_ms) for pos, ordinal in where[lbl]]
        ts, cols = merge_parts(parts)
        if len(ts):
            yield lbl, ts, cols
