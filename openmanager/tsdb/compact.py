"""Compaction: plan which blocks of a tier to merge, and merge them into one new block.

Planning follows Prometheus: overlapping blocks first (late samples, re-computed rollups),
then blocks that fall in one aligned window of an exponential range (2h, 6h, 18h, ...,
capped at retention / 10) once that window lies in the past; unlike Prometheus the largest
such window is taken first, so a backfill is merged into its final blocks in one pass. Merging deduplicates equal
timestamps (newest block wins) and drops tombstoned data for good.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from openmanager.samples import SeriesMeta
from openmanager.tsdb.block import Block, Columns
from openmanager.tsdb.block_format import HOUR_MS, TIERS, BlockMeta
from openmanager.tsdb.block_merge import iter_merged
from openmanager.tsdb.block_writer import BlockWriter
from openmanager.tsdb.downsample import INCREASE

BASE_RANGE_MS = 2 * HOUR_MS
MAX_RANGE_MS = 31 * 24 * HOUR_MS
MAX_RAW_CHUNK_SPAN_MS = 24 * HOUR_MS
"""Raw chunks span their block's range (2h at level 1, 6h, 18h, ...) up to this bound."""
ROLLUP_CHUNK_POINTS = 4096
"""Rollup chunks span the largest block range holding at most this many windows
(54h at 1m, 162h at 5m, 1458h at 1h): long enough to compress well, aligned with blocks."""
_TIME_MIN, _TIME_MAX = -(2**62), 2**62


def exponential_ranges(max_range_ms: int, base_ms: int = BASE_RANGE_MS) -> list[int]:
    """Block ranges base, 3*base, 9*base, ... not above max_range_ms (at least [base])."""
    ranges = [base_ms]
    while ranges[-1] * 3 <= max_range_ms:
        ranges.append(ranges[-1] * 3)
    return ranges


def ranges_for_retention(retention_ms: int) -> list[int]:
    """Prometheus's rule: blocks grow up to retention / 10, and at most 31 days."""
    cap = MAX_RANGE_MS if retention_ms <= 0 else min(retention_ms // 10, MAX_RANGE_MS)
    return exponential_ranges(cap)


def chunk_span_ms(tier: str, data_span_ms: int = 0) -> int:
    """How much time one chunk of a new block covers, given the time its data spans.

    Raw chunks grow with the block (2h, 6h, 18h, ... up to MAX_RAW_CHUNK_SPAN_MS): longer
    chunks compress better; rollup chunks see ROLLUP_CHUNK_POINTS.
    """
    res = TIERS[tier]
    if res:
        return exponential_ranges(res * ROLLUP_CHUNK_POINTS)[-1]
    span = BASE_RANGE_MS
    while span < data_span_ms and span < MAX_RAW_CHUNK_SPAN_MS:
        span *= 3
    return min(span, MAX_RAW_CHUNK_SPAN_MS)


def _window(tier: str, t: int, r: int) -> int:
    """Aligned window key: raw blocks use [w, w+r); rollups (window ends) use (w, w+r]."""
    align = 0 if TIERS[tier] == 0 else 1
    return (t - align) // r


def plan_overlapping(metas: Sequence[BlockMeta]) -> list[BlockMeta] | None:
    """The first set of blocks whose time ranges overlap (transitively), if any."""
    group: list[BlockMeta] = []
    group_max = _TIME_MIN
    for m in sorted(metas, key=lambda m: (m.min_time, m.id)):
        if group and m.min_time <= group_max:
            group.append(m)
            group_max = max(group_max, m.max_time)
            continue
        if len(group) > 1:
            return group
        group, group_max = [m], m.max_time
    return group if len(group) > 1 else None


def plan_compaction(
    metas: Sequence[BlockMeta], ranges: Sequence[int], *, now_ms: int | None = None
) -> list[BlockMeta] | None:
    """Blocks to merge next: overlapping ones, else a full past window of a larger range."""
    if len(metas) < 2:
        return None
    overlapping = plan_overlapping(metas)
    if overlapping:
        return overlapping
    high = max(m.max_time for m in metas)
    tier = metas[0].tier
    for r in reversed(ranges[1:]):  # largest complete window first: backfills merge once
        groups: dict[int, list[BlockMeta]] = {}
        for m in metas:
            w = _window(tier, m.min_time, r)
            if _window(tier, m.max_time, r) == w:
                groups.setdefault(w, []).append(m)
        for w in sorted(groups):
            group = groups[w]
            window_last = _window_last(tier, w, r)
            done = high > window_last or (now_ms is not None and now_ms > window_last + r)
            if len(group) > 1 and done:
                return sorted(group, key=lambda m: m.min_time)
    return None


def _window_last(tier: str, w: int, r: int) -> int:
    """Inclusive last timestamp of window key w."""
    align = 0 if TIERS[tier] == 0 else 1
    return (w + 1) * r - 1 + align


def write_columns(tier: str, cols: Columns) -> list[Columns | None]:
    """Columns as the writer takes them: a rollup's all-NaN `increase` is stored as absent."""
    out: list[Columns | None] = list(cols)
    if TIERS[tier] and bool(np.all(np.isnan(cols[INCREASE]))):
        out[INCREASE] = None
    return out


def merged_metadata(blocks: Sequence[Block]) -> dict[str, SeriesMeta]:
    """Metric metadata of several blocks; the newest block's entry wins."""
    out: dict[str, SeriesMeta] = {}
    for b in sorted(blocks, key=lambda b: b.id):
        out.update(b.index.metadata)
    return out


def compact_blocks(
    blocks: Sequence[Block], tier_dir: Path, *, same_level: bool = False
) -> BlockMeta:
    """Merge blocks of one tier into a new block (one block: rewrite without tombstones)."""
    tier = blocks[0].meta.tier
    min_time = min(b.meta.min_time for b in blocks)
    level = max(b.meta.level for b in blocks) + (0 if same_level else 1)
    sources = sorted({s for b in blocks for s in b.meta.sources})
    extra: Mapping[str, object] = {"parents": sorted(b.id for b in blocks)}
    with BlockWriter(
        tier_dir,
        tier,
        chunk_span_ms=chunk_span_ms(tier, max(b.meta.max_time for b in blocks) - min_time + 1),
        level=level,
        sources=sources,
        extra=extra,
    ) as writer:
        for labels, ts, cols in iter_merged(blocks, (), _TIME_MIN, _TIME_MAX):
            writer.add(labels, ts, write_columns(tier, cols))
        return writer.commit(merged_metadata(blocks))
