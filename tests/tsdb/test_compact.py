"""Compaction planning (Prometheus-style ranges, overlaps) and merging with deduplication."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from openmanager.samples import STALE_NAN, Labels, make_labels
from openmanager.tsdb import blockstore
from openmanager.tsdb.block import Block
from openmanager.tsdb.block_format import BlockMeta
from openmanager.tsdb.blockstore import BlockStore
from openmanager.tsdb.compact import (
    chunk_span_ms,
    compact_blocks,
    exponential_ranges,
    plan_compaction,
    plan_overlapping,
    ranges_for_retention,
)
from openmanager.tsdb.matchers import eq

HOUR = 3_600_000
DAY = 24 * HOUR


def meta(i: int, lo: int, hi: int, tier: str = "raw") -> BlockMeta:
    return BlockMeta(f"{i:026d}", lo, hi, 0, tier, 1, 1)


def test_ranges_follow_retention() -> None:
    assert exponential_ranges(60 * HOUR) == [2 * HOUR, 6 * HOUR, 18 * HOUR, 54 * HOUR]
    assert ranges_for_retention(7 * DAY) == [2 * HOUR, 6 * HOUR]  # cap 16.8h
    assert ranges_for_retention(30 * DAY)[-1] == 54 * HOUR
    assert ranges_for_retention(0)[-1] <= 31 * DAY
    assert ranges_for_retention(HOUR) == [2 * HOUR]


def test_plan_overlapping_groups_transitively() -> None:
    metas = [meta(1, 0, 10), meta(2, 20, 30), meta(3, 25, 40), meta(4, 35, 50), meta(5, 60, 70)]
    group = plan_overlapping(metas)
    assert group is not None and [m.id[-1] for m in group] == ["2", "3", "4"]
    assert plan_overlapping([meta(1, 0, 10), meta(2, 11, 20)]) is None


def test_plan_waits_for_a_complete_window() -> None:
    two = [meta(i, i * 2 * HOUR, (i + 1) * 2 * HOUR - 1) for i in range(2)]
    ranges = [2 * HOUR, 6 * HOUR]
    assert plan_compaction(two, ranges) is None  # [0, 6h) may still get its third block
    three = [*two, meta(2, 4 * HOUR, 6 * HOUR - 1)]
    assert plan_compaction(three, ranges) is None  # nothing newer yet
    four = [*three, meta(3, 6 * HOUR, 7 * HOUR)]
    plan = plan_compaction(four, ranges)
    assert plan is not None and [m.id[-1] for m in plan] == ["0", "1", "2"]
    # a gap is fine once the window lies in the past
    gap = [two[0], meta(3, 6 * HOUR, 7 * HOUR), meta(4, 2 * HOUR, 3 * HOUR)]
    assert plan_compaction(gap, ranges) is not None
    # rollup tiers align windows as (w, w + r]: a block ending exactly at 6h belongs to [0, 6h]
    rollups = [meta(i, i * 2 * HOUR + 60_000, (i + 1) * 2 * HOUR, "1m") for i in range(4)]
    plan = plan_compaction(rollups, ranges)
    assert plan is not None and len(plan) == 3


def _series(i: int) -> Labels:
    return make_labels("m", {"i": str(i)})


def test_compaction_merges_overlaps_dedupes_and_drops_tombstones(tmp_path: Path) -> None:
    store = BlockStore(tmp_path, {}, now_ms=lambda: 0)
    ts_a = np.arange(0, 1000, 10, dtype=np.int64)
    ts_b = np.arange(500, 1500, 10, dtype=np.int64)  # overlaps a on [500, 990]
    store.add_block(
        [(_series(0), ts_a, np.zeros(100)), (_series(1), ts_a, ts_a.astype(np.float64))], {}
    )
    store.add_block(
        [(_series(0), ts_b, np.ones(100)), (_series(2), ts_b, np.full(100, STALE_NAN))], {}
    )
    store.delete([eq("i", "1")], 100, 199)
    before = {s.labels: (s.timestamps, s.values) for s in store.select([], 0, 2000)}
    report = store.maintain(now_ms=0)
    (merged,) = report.compacted
    assert merged.level == 2 and len(merged.sources) == 2
    (block,) = store.blocks()
    assert block.id == merged.id and block.num_series == 3
    assert block.num_samples == 150 + 90 + 100  # duplicates once, tombstoned gone
    after = {s.labels: (s.timestamps, s.values) for s in store.select([], 0, 2000)}
    assert before.keys() == after.keys()
    for key, (ts, vs) in before.items():
        np.testing.assert_array_equal(after[key][0], ts)
        np.testing.assert_array_equal(after[key][1].view(np.uint64), vs.view(np.uint64))
    s0 = after[_series(0)]
    assert len(s0[0]) == 150 and np.all(s0[1][s0[0] >= 500] == 1.0)  # the newer block won
    s1 = after[_series(1)][0]
    assert not np.any((s1 >= 100) & (s1 <= 199))


def test_compact_blocks_stream_many_series(tmp_path: Path) -> None:
    store = BlockStore(tmp_path, {}, now_ms=lambda: 0)
    for k in range(3):
        ts = np.arange(k * 2 * HOUR, (k + 1) * 2 * HOUR, 60_000, dtype=np.int64)
        store.add_block([(_series(i), ts, np.sin(ts + i)) for i in range(50)], {})
    blocks = [Block(tmp_path / "blocks" / "raw" / m.id) for m in store.blocks()]
    out = compact_blocks(blocks, tmp_path / "blocks" / "raw")
    merged = Block(tmp_path / "blocks" / "raw" / out.id)
    assert out.num_series == 50 and out.num_samples == 50 * 360
    assert out.min_time == 0 and out.max_time == 6 * HOUR - 60_000
    assert out.num_chunks == 50  # one 6h chunk per series in a compacted block
    for ordinal in (0, 7, 49):
        i = int(dict(merged.labels[ordinal])["i"])
        ts, cols = merged.read(ordinal, 0, 6 * HOUR)
        np.testing.assert_array_equal(cols[0], np.sin(ts + i))


def test_delete_racing_a_compaction_is_not_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = BlockStore(tmp_path, {}, now_ms=lambda: 0)
    ts = np.arange(0, 1000, 10, dtype=np.int64)
    store.add_block([(_series(0), ts, np.zeros(100)), (_series(1), ts, np.zeros(100))], {})
    store.add_block([(_series(0), ts + 5, np.ones(100))], {})
    real = compact_blocks

    def racing(blocks: list[Block], tier_dir: Path, **kw: bool) -> BlockMeta:
        out = real(blocks, tier_dir, **kw)
        store.delete([eq("i", "0")], 0, 10**9)  # lands before the merged block is installed
        monkeypatch.setattr(blockstore, "compact_blocks", real)
        return out

    monkeypatch.setattr(blockstore, "compact_blocks", racing)
    store.maintain(now_ms=0)
    assert store.select([eq("i", "0")], 0, 10**9) == []
    assert len(store.select([eq("i", "1")], 0, 10**9)) == 1
    (block,) = store.blocks()
    assert block.num_series == 1 and block.level == 2


def test_backfill_is_merged_into_the_largest_window_at_once() -> None:
    ranges = [2 * HOUR, 6 * HOUR, 18 * HOUR]
    metas = [meta(i, i * 2 * HOUR, (i + 1) * 2 * HOUR - 1) for i in range(10)]
    plan = plan_compaction(metas, ranges)
    assert plan is not None and len(plan) == 9 and plan[-1].max_time == 18 * HOUR - 1


def test_chunk_span_grows_with_the_data() -> None:
    assert chunk_span_ms("raw") == 2 * HOUR
    assert chunk_span_ms("raw", 2 * HOUR) == 2 * HOUR
    assert chunk_span_ms("raw", 6 * HOUR) == 6 * HOUR
    assert chunk_span_ms("raw", 7 * HOUR) == 18 * HOUR
    assert chunk_span_ms("raw", 30 * DAY) == 24 * HOUR
    assert chunk_span_ms("1m") == 54 * HOUR  # the largest block range under 4096 windows
    assert chunk_span_ms("1h") == 1458 * HOUR
