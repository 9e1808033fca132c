"""Cuts encoded in the worker process: same blocks as inline, nothing lost on failure, bounded head."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest

from openmanager.config.settings import RetentionSettings, StorageSettings
from openmanager.errors import Unavailable
from openmanager.samples import SampleBatch, make_labels
from openmanager.tsdb.block_format import CHUNKS_FILE, INDEX_FILE
from openmanager.tsdb.engine import EmbeddedStorage
from openmanager.tsdb.matchers import eq
from tests.tsdb.conftest import FakeClock

HOUR = 3_600_000
STEP = 60_000
T0 = 1_700_006_400_000 - 30 * HOUR  # block-aligned (the clock fixture is)
SERIES = [make_labels("m", {"instance": f"h{i}"}) for i in range(4)]
ALL = [eq("__name__", "m")]


def _batch(lo: int, hi: int) -> SampleBatch:
    ts = np.arange(lo, hi, STEP, dtype=np.int64)
    rng = np.random.default_rng(lo)
    return SampleBatch.from_series(
        [(lbl, ts, np.round(rng.normal(50, 5, len(ts)), 1) + i) for i, lbl in enumerate(SERIES)]
    )


def _settings(path: Path, *, worker: bool, backlog: int = 5_000_000) -> StorageSettings:
    return StorageSettings(
        path=path,
        wal_fsync=False,
        cut_worker_min_samples=0 if worker else 10**12,
        head_max_backlog_samples=backlog,
        retention=RetentionSettings(raw="100y"),
    )


def _fill(store: EmbeddedStorage, clock: FakeClock, hours: int) -> None:
    for lo in range(T0, T0 + hours * HOUR, 30 * STEP):
        clock.now = lo + 30 * STEP
        assert store.append(_batch(lo, lo + 30 * STEP)).accepted == 30 * len(SERIES)


def _blocks(root: Path) -> list[tuple[int, int, int, bytes, bytes]]:
    """Each raw block's span, samples, chunk bytes and index bytes, by time."""
    out = []
    for meta_dir in sorted((root / "blocks" / "raw").iterdir()):
        from openmanager.tsdb.block import Block

        b = Block(meta_dir)
        try:
            out.append(
                (
                    b.meta.min_time,
                    b.meta.max_time,
                    b.meta.num_samples,
                    (meta_dir / CHUNKS_FILE).read_bytes(),
                    (meta_dir / INDEX_FILE).read_bytes(),
                )
            )
        finally:
            b.close()
    return sorted(out)


def _samples(store: EmbeddedStorage) -> dict[str, tuple[list[int], list[float]]]:
    return {
        dict(s.labels)["instance"]: (s.timestamps.tolist(), s.values.tolist())
        for s in store.select(ALL, 0, 2**62)
    }


def test_worker_writes_the_same_blocks_as_inline(tmp_path: Path, clock: FakeClock) -> None:
    got = {}
    for worker in (False, True):
        root = tmp_path / ("worker" if worker else "inline")
        with EmbeddedStorage(root, _settings(root, worker=worker), now_ms=clock) as store:
            store._cutter.stop()  # cut only when asked, so both stores cut the same ranges
            _fill(store, clock, 26)
            store.flush()
            assert (store.cut_worker_pid is not None) == worker
            assert store.stats().head_samples == 0
            got[worker] = (_blocks(root), _samples(store))
    assert got[True] == got[False]
    blocks, samples = got[True]
    assert len(blocks) >= 2 and sum(b[2] for b in blocks) > 0
    assert all(len(ts) == 26 * 60 for ts, _ in samples.values())


def test_a_backlog_is_cut_into_larger_aligned_blocks(tmp_path: Path, clock: FakeClock) -> None:
    root = tmp_path / "db"
    with EmbeddedStorage(root, _settings(root, worker=True), now_ms=clock) as store:
        store._cutter.stop()
        _fill(store, clock, 26)  # from an 18h boundary: an 18h block and an 8h one
        want = _samples(store)
        store.flush()
        spans = [(m.min_time, m.max_time) for m in store.blocks.blocks("raw")]  # type: ignore[attr-defined]
        widths = [(hi - lo + STEP) // HOUR for lo, hi in spans]
        assert max(widths) == 18
        for lo, hi in spans:  # every block lies inside one aligned window of its span
            span = max(s for s in (2, 6, 18) if s * HOUR >= hi - lo + STEP) * HOUR
            assert lo // span == hi // span
        assert _samples(store) == want
        store.maintain()  # compaction and rollups take the larger blocks as they are
        assert _samples(store) == want
        assert store.stats().samples == 26 * 60 * len(SERIES)


def test_close_stops_the_worker(tmp_path: Path, clock: FakeClock) -> None:
    root = tmp_path / "db"
    store = EmbeddedStorage(root, _settings(root, worker=True), now_ms=clock)
    _fill(store, clock, 6)
    store.flush()
    pid = store.cut_worker_pid
    assert pid is not None
    store.close()
    assert store.cut_worker_pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_failing_worker_leaves_the_data_in_the_head_and_the_cut_is_retried(
    tmp_path: Path, clock: FakeClock
) -> None:
    root = tmp_path / "db"
    raw = root / "blocks" / "raw"
    with EmbeddedStorage(root, _settings(root, worker=True), now_ms=clock) as store:
        store._cutter.stop()
        _fill(store, clock, 8)
        want = _samples(store)
        raw.rename(root / "raw-away")
        raw.write_text("not a directory")  # the worker's block write fails with an OSError
        store.maintain()  # the failure is logged, not raised
        assert store.cut_worker_pid is not None  # the cut ran in the worker
        assert store.stats().head_samples == 8 * 60 * len(SERIES)
        assert _samples(store) == want
        raw.unlink()
        (root / "raw-away").rename(raw)
        store.maintain()  # retried
        assert 0 < store.stats().head_samples < 8 * 60 * len(SERIES)
        assert store.stats().tiers[0].samples > 0
        assert _samples(store) == want
    with EmbeddedStorage(root, _settings(root, worker=True), now_ms=clock) as store:
        assert _samples(store) == want  # blocks plus the WAL's rest, each sample once
        assert store.stats().samples == 8 * 60 * len(SERIES)


def test_a_killed_worker_is_replaced(tmp_path: Path, clock: FakeClock) -> None:
    root = tmp_path / "db"
    with EmbeddedStorage(root, _settings(root, worker=True), now_ms=clock) as store:
        store._cutter.stop()
        _fill(store, clock, 4)
        store.flush()
        pid = store.cut_worker_pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        more = T0 + 4 * HOUR
        clock.now = more + HOUR
        store.append(_batch(more, more + HOUR))
        with pytest.raises(Unavailable, match="died"):
            store.flush()
        assert store.stats().head_samples == 60 * len(SERIES)
        store.flush()
        assert store.cut_worker_pid not in (None, pid)
        assert store.stats().head_samples == 0
        assert all(len(ts) == 5 * 60 for ts, _ in _samples(store).values())


def test_the_head_may_fall_behind_until_the_backlog_limit(tmp_path: Path, clock: FakeClock) -> None:
    limit = 3_000
    root = tmp_path / "db"
    settings = _settings(root, worker=False, backlog=limit)
    with EmbeddedStorage(root, settings, now_ms=clock) as store:
        store._cutter.stop()  # the cutter never runs: only back-pressure bounds the head
        widest = 0
        for lo in range(T0, T0 + 30 * HOUR, 30 * STEP):
            clock.now = lo + 30 * STEP
            store.append(_batch(lo, lo + 30 * STEP))
            span = store.head.time_range()
            assert span is not None
            widest = max(widest, span[1] - span[0])
            assert store.head.num_samples <= limit + 30 * len(SERIES)
        assert widest > 3 * 2 * HOUR  # beyond 3 blocks while under the limit
        assert store.stats().samples == 30 * 60 * len(SERIES)


def test_history_far_behind_the_clock_is_cut_in_whole_large_windows(
    tmp_path: Path, clock: FakeClock
) -> None:
    root = tmp_path / "db"
    with EmbeddedStorage(root, _settings(root, worker=False), now_ms=clock) as store:
        clock.now = T0 + 100 * 24 * HOUR  # a backfill: the data is months old
        for lo in range(T0, T0 + 40 * HOUR, 30 * STEP):
            store.append(_batch(lo, lo + 30 * STEP))
        assert store.wait_for_cuts(30)
        spans = [(m.min_time, m.max_time) for m in store.blocks.blocks("raw")]  # type: ignore[attr-defined]
        assert spans == [(T0, T0 + 18 * HOUR - STEP), (T0 + 18 * HOUR, T0 + 36 * HOUR - STEP)]
        assert store.stats().head_samples == 4 * 60 * len(SERIES)
        assert store.stats().samples == 40 * 60 * len(SERIES)


def test_a_backfill_over_half_the_backlog_limit_is_cut_by_block(
    tmp_path: Path, clock: FakeClock
) -> None:
    root = tmp_path / "db"
    with EmbeddedStorage(root, _settings(root, worker=False, backlog=2_000), now_ms=clock) as store:
        clock.now = T0 + 100 * 24 * HOUR
        for lo in range(T0, T0 + 12 * HOUR, 30 * STEP):
            store.append(_batch(lo, lo + 30 * STEP))
            assert store.wait_for_cuts(30)
        assert store.stats().head_samples <= 1_000 + 2 * 60 * len(SERIES)
        assert store.stats().samples == 12 * 60 * len(SERIES)
