"""BlockStore: add/select across blocks, label queries, tombstones across restarts, recovery."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from openmanager.errors import InvalidInput, Unavailable
from openmanager.samples import STALE_NAN, Labels, SeriesMeta, make_labels
from openmanager.tsdb.block_format import TMP_SUFFIX, TOMBSTONES_FILE
from openmanager.tsdb.blockstore import BlockStore
from openmanager.tsdb.matchers import Matcher, MatchType, eq

HOUR = 3_600_000
STEP = 15_000


def lbl(job: str, i: int) -> Labels:
    return make_labels("up", {"job": job, "instance": f"h{i}"})


def block_data(start: int, end: int, n: int = 3) -> list[tuple[Labels, np.ndarray, np.ndarray]]:
    """Samples every 15 s in [start, end) for n series per job; value = ts / 1000 + i."""
    ts = np.arange(start, end, STEP, dtype=np.int64)
    return [(lbl(job, i), ts, ts / 1000.0 + i) for job in ("api", "db") for i in range(n)]


@pytest.fixture
def store(tmp_path: Path) -> BlockStore:
    return BlockStore(tmp_path, {}, now_ms=lambda: 0)


def test_select_across_blocks_with_matchers(store: BlockStore) -> None:
    store.add_block(block_data(0, 2 * HOUR), {"up": SeriesMeta("gauge", "is up", "")})
    store.add_block(block_data(2 * HOUR, 4 * HOUR), {})
    got = store.select([eq("job", "db"), Matcher("instance", MatchType.RE, "h[12]")], 0, 4 * HOUR)
    assert [dict(s.labels)["instance"] for s in got] == ["h1", "h2"]
    ts = np.arange(0, 4 * HOUR, STEP)
    np.testing.assert_array_equal(got[0].timestamps, ts)
    np.testing.assert_array_equal(got[0].values, ts / 1000.0 + 1)
    inner = store.select([eq("instance", "h0")], 2 * HOUR - STEP, 2 * HOUR)
    assert [list(s.timestamps) for s in inner] == [[2 * HOUR - STEP, 2 * HOUR]] * 2
    assert store.select([eq("job", "nope")], 0, 4 * HOUR) == []
    assert store.max_time() == 4 * HOUR - STEP


def test_label_queries_and_metadata(store: BlockStore) -> None:
    store.add_block(block_data(0, HOUR), {"up": SeriesMeta("gauge", "old", "")})
    store.add_block(
        [(make_labels("other", {"zone": "z"}), np.array([HOUR + 5]), np.array([1.0]))],
        {"up": SeriesMeta("gauge", "new", "")},
    )
    assert store.label_names() == ["__name__", "instance", "job", "zone"]
    assert store.label_names([eq("job", "api")]) == ["__name__", "instance", "job"]
    assert store.label_values("job") == ["api", "db"]
    assert store.label_values("__name__", start_ms=HOUR, end_ms=2 * HOUR) == ["other"]
    assert store.series([eq("instance", "h2")], 0, HOUR) == [lbl("api", 2), lbl("db", 2)]
    assert store.series([eq("instance", "h2")], HOUR + 1, 2 * HOUR) == []
    assert store.metadata() == {"up": SeriesMeta("gauge", "new", "")}
    assert store.metadata("nope") == {}


def test_stale_markers_and_unsorted_input_survive(store: BlockStore) -> None:
    ts = np.array([30, 10, 20, 20], dtype=np.int64)
    vs = np.array([STALE_NAN, 1.0, 2.0, 3.0])
    store.add_block([(lbl("api", 0), ts, vs)], {})
    (s,) = store.select([], 0, 100)
    np.testing.assert_array_equal(s.timestamps, [10, 20, 30])
    bits = s.values.view(np.uint64)
    np.testing.assert_array_equal(bits, np.array([1.0, 3.0, STALE_NAN]).view(np.uint64))


def test_empty_block_writes_nothing(store: BlockStore, tmp_path: Path) -> None:
    meta = store.add_block([(lbl("api", 0), np.zeros(0, dtype=np.int64), np.zeros(0))], {})
    assert meta.num_series == 0
    assert list((tmp_path / "blocks" / "raw").iterdir()) == []


def test_overlapping_blocks_merge_newest_wins(store: BlockStore) -> None:
    ts = np.arange(0, 100_000, 10_000, dtype=np.int64)
    store.add_block([(lbl("api", 0), ts, np.zeros(len(ts)))], {})
    late = np.array([5_000, 20_000, 95_000, 200_000], dtype=np.int64)
    store.add_block([(lbl("api", 0), late, np.ones(4))], {})
    (s,) = store.select([], 0, 10**9)
    want_ts = np.unique(np.concatenate([ts, late]))
    np.testing.assert_array_equal(s.timestamps, want_ts)
    np.testing.assert_array_equal(s.values, np.isin(want_ts, late).astype(float))


def test_leftover_tmp_dir_is_removed_on_open(tmp_path: Path) -> None:
    store = BlockStore(tmp_path, {})
    store.add_block(block_data(0, HOUR), {})
    store.close()
    raw = tmp_path / "blocks" / "raw"
    half = raw / ("01HALFWRITTENBLOCK00000000" + TMP_SUFFIX)
    half.mkdir()
    (half / "chunks").write_bytes(b"\x00" * 10)
    reopened = BlockStore(tmp_path, {})
    assert not half.exists()
    assert len(reopened.blocks()) == 1
    assert len(reopened.select([], 0, HOUR)) == 6


def test_compaction_leftovers_are_removed_on_open(tmp_path: Path) -> None:
    store = BlockStore(tmp_path, {}, now_ms=lambda: 0)
    for k in range(4):
        store.add_block(block_data(k * 2 * HOUR, (k + 1) * 2 * HOUR), {})
    raw = tmp_path / "blocks" / "raw"
    saved = {p.name: tmp_path / "saved" / p.name for p in raw.iterdir()}
    for name, dst in saved.items():
        shutil.copytree(raw / name, dst)
    report = store.maintain(now_ms=0)
    assert len(report.compacted) == 1 and report.compacted[0].level == 2
    store.close()
    for name, src in saved.items():  # simulate a crash before the sources were deleted
        if not (raw / name).exists():
            shutil.copytree(src, raw / name)
    reopened = BlockStore(tmp_path, {})
    assert [m.level for m in reopened.blocks()] == [2, 1]
    assert sum(m.num_samples for m in reopened.blocks()) == 6 * 4 * 2 * HOUR // STEP


def test_tombstones_survive_reopen_and_compaction_removes_data(tmp_path: Path) -> None:
    store = BlockStore(tmp_path, {})
    store.add_block(block_data(0, 2 * HOUR), {})
    touched = store.delete([eq("job", "api")], HOUR, 3 * HOUR)
    assert touched == 3
    assert store.delete([eq("job", "none")], 0, HOUR) == 0
    with pytest.raises(InvalidInput, match="starts after it ends"):
        store.delete([], 10, 5)
    store.close()
    reopened = BlockStore(tmp_path, {}, now_ms=lambda: 0)
    for s in reopened.select([], 0, 2 * HOUR):
        last = s.timestamps[-1]
        assert last == (HOUR - STEP if dict(s.labels)["job"] == "api" else 2 * HOUR - STEP)
    assert reopened.series([eq("job", "api")], HOUR, 2 * HOUR) == []
    report = reopened.maintain(now_ms=0)
    assert len(report.rewritten) == 1
    (block,) = reopened.blocks()
    assert block.num_samples == 6 * 480 - 3 * 240
    assert not (tmp_path / "blocks" / "raw" / block.id / TOMBSTONES_FILE).exists()
    reopened.close()
    again = BlockStore(tmp_path, {})
    api = again.select([eq("job", "api")], 0, 2 * HOUR)
    assert all(len(s.timestamps) == 240 for s in api)


def test_tier_stats(store: BlockStore) -> None:
    store.add_block(block_data(0, 2 * HOUR), {})
    store.add_block(block_data(2 * HOUR, 3 * HOUR, n=4), {})
    stats = {t.name: t for t in store.tier_stats()}
    assert set(stats) == {"raw", "1m", "5m", "1h"}
    raw = stats["raw"]
    assert raw.series == 8 and raw.samples == 6 * 480 + 8 * 240
    assert raw.min_time == 0 and raw.max_time == 3 * HOUR - STEP
    assert raw.bytes_on_disk > 0
    assert stats["1h"].series == 0 and stats["1h"].min_time is None


def test_queries_stay_complete_while_maintenance_swaps_blocks(tmp_path: Path) -> None:
    import threading

    store = BlockStore(tmp_path, {"raw": 0}, now_ms=lambda: 0)
    for k in range(9):
        store.add_block(block_data(k * 2 * HOUR, (k + 1) * 2 * HOUR), {})
    want = 6 * 9 * 2 * HOUR // STEP
    stop = threading.Event()
    seen: list[int] = []
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            while not stop.is_set():
                seen.append(sum(len(s.timestamps) for s in store.select([], 0, 18 * HOUR)))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        report = store.maintain(now_ms=0)
    finally:
        stop.set()
        thread.join()
    assert report.compacted and not errors
    assert seen and set(seen) == {want}
    assert [m.level for m in store.blocks()] == [2, 2, 1, 1, 1]  # [12h, 18h) is not complete yet


def test_damaged_block_is_named_on_open(tmp_path: Path) -> None:
    store = BlockStore(tmp_path, {})
    meta = store.add_block(block_data(0, HOUR), {})
    store.close()
    index = tmp_path / "blocks" / "raw" / meta.id / "index"
    index.write_bytes(index.read_bytes()[:20])
    with pytest.raises(Unavailable, match=meta.id):
        BlockStore(tmp_path, {})
