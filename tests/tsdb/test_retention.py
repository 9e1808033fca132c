"""Retention per tier with synthetic time: whole blocks expire, raw only once rolled up."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from openmanager.errors import InvalidInput
from openmanager.samples import make_labels
from openmanager.tsdb.block_format import BlockMeta
from openmanager.tsdb.blockstore import BlockStore
from openmanager.tsdb.retention import DEFAULT_RETENTION_MS, expired_blocks, validate_retention

HOUR = 3_600_000
DAY = 24 * HOUR


def _meta(i: int, lo: int, hi: int) -> BlockMeta:
    return BlockMeta(f"{i:026d}", lo, hi, 0, "raw", 1, 1)


def test_expired_blocks_and_defaults() -> None:
    metas = [_meta(0, 0, 99), _meta(1, 100, 199), _meta(2, 200, 299)]
    assert [m.id[-1] for m in expired_blocks(metas, 150, 300)] == ["0"]
    assert [m.id[-1] for m in expired_blocks(metas, 50, 300)] == ["0", "1"]
    assert expired_blocks(metas, 50, 300, keep=lambda m: m.min_time == 0)[0].id[-1] == "1"
    assert expired_blocks(metas, 0, 10**9) == []  # 0 keeps forever
    assert validate_retention({"raw": 5})["1h"] == DEFAULT_RETENTION_MS["1h"] == 365 * DAY
    with pytest.raises(InvalidInput, match="unknown retention tier"):
        validate_retention({"2m": 1})


def _fill(store: BlockStore, hours: int) -> None:
    for k in range(hours // 2):
        ts = np.arange(k * 2 * HOUR, (k + 1) * 2 * HOUR, 60_000, dtype=np.int64)
        store.add_block([(make_labels("m", {"i": "0"}), ts, np.ones(len(ts)))], {})


def test_raw_kept_until_rolled_up(tmp_path: Path) -> None:
    store = BlockStore(tmp_path, {"raw": HOUR}, settle_ms=10 * DAY)
    assert store.period_ms == 2 * HOUR  # raw blocks never grow past retention / 10 -> 2h
    _fill(store, 24)
    # before any rollup exists, retention alone removes no raw block, however old
    assert store._expire(100 * DAY) == []
    report = store.maintain(now_ms=26 * HOUR)
    # retention counts from the newest sample (24h - 1m): raw before 23h - 1m goes, but only
    # after its periods were rolled up; (22h, 24h] waits for newer data, so its block stays
    assert report.periods_rolled_up == 12
    assert {m.tier for m in report.deleted} == {"raw"} and len(report.deleted) == 11
    raw = store.blocks("raw")
    assert len(raw) == 1 and raw[0].min_time == 22 * HOUR
    rolled = store.select_rollup([], 0, 30 * HOUR, 60_000)[0]
    assert rolled.timestamps[-1] == 22 * HOUR
    assert rolled.count.sum() == 22 * 60 + 1
    # newer data moves the reference: the old block is rolled up, then deleted
    ts = np.arange(30 * HOUR, 32 * HOUR, 60_000, dtype=np.int64)
    store.add_block([(make_labels("m", {"i": "0"}), ts, np.ones(len(ts)))], {})
    store.maintain(now_ms=32 * HOUR)
    assert [m.min_time for m in store.blocks("raw")] == [30 * HOUR]
    rolled = store.select_rollup([], 0, 29 * HOUR, 60_000)[0]
    assert rolled.count.sum() == 24 * 60 and rolled.timestamps[-1] == 24 * HOUR - 60_000


def test_rollup_tiers_expire_whole_blocks(tmp_path: Path) -> None:
    retention = {"raw": 0, "1m": 10 * HOUR, "5m": 20 * HOUR, "1h": 0}
    store = BlockStore(tmp_path, retention, settle_ms=HOUR)
    _fill(store, 24)
    store.maintain(now_ms=0)  # rolls up to 18h; nothing is old at time 0
    before = {t.name: t for t in store.tier_stats()}
    assert before["1m"].min_time == 0 and before["1h"].min_time == 0
    assert store.retention_reference(10**15) == 24 * HOUR - 60_000
    report = store.maintain(now_ms=28 * HOUR)  # (18h, 24h] settles; the newest window ends at 24h
    assert store.retention_reference(28 * HOUR) == 24 * HOUR
    after = {t.name: t for t in store.tier_stats()}
    gone = {m.tier for m in report.deleted}
    assert gone == {"1m", "5m"}
    # 24h - 10h = 14h: 1m blocks of the periods ending at 0, 6h and 12h go
    assert after["1m"].min_time == 12 * HOUR + 60_000
    assert after["5m"].min_time == 300_000  # 24h - 20h = 4h: only the block ending at 0 goes
    assert after["raw"].samples == before["raw"].samples
    assert after["1h"].samples == before["1h"].samples + 6
