"""WAL: round trip of every record kind, segment rolling, checkpoints, torn and corrupted tails."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openmanager.samples import STALE_NAN, SeriesMeta, make_labels
from openmanager.tsdb.wal import HEADER, WriteAheadLog
from openmanager.tsdb.wal_records import WalBatch, WalCut, WalRecord, WalTombstone


def _batch(i: int, n: int = 100) -> WalBatch:
    rng = np.random.default_rng(i)
    labels = make_labels("m", {"i": str(i), "utf": "é✓"})
    vals = rng.standard_normal(n)
    vals[0] = STALE_NAN
    vals[1] = float("nan")
    return WalBatch(
        [(i, labels)],
        np.full(n, i, dtype=np.int64),
        np.arange(n, dtype=np.int64) * 15_000 + i,
        vals,
        {"m": SeriesMeta("gauge", "help é", "bytes")} if i == 0 else {},
    )


def _replay(path: Path) -> tuple[WriteAheadLog, list[WalRecord]]:
    wal = WriteAheadLog(path, fsync=False)
    return wal, list(wal.replay())


def _assert_same(a: WalRecord, b: WalRecord) -> None:
    assert type(a) is type(b)
    if isinstance(a, WalBatch) and isinstance(b, WalBatch):
        assert a.series == b.series and a.metadata == b.metadata
        assert np.array_equal(a.refs, b.refs) and np.array_equal(a.timestamps, b.timestamps)
        assert np.array_equal(a.values.view(np.uint64), b.values.view(np.uint64))
    else:
        assert repr(a) == repr(b)


def test_round_trip_all_record_kinds(tmp_path: Path) -> None:
    wal, recs = _replay(tmp_path)
    assert recs == []
    written: list[WalRecord] = [_batch(0), _batch(1, 5000), WalTombstone(np.array([0, 1]), 5, 9)]
    written.append(WalCut(123_456))
    for rec in written:
        wal.append(rec)
    wal.close()
    _, back = _replay(tmp_path)
    assert len(back) == len(written)
    for a, b in zip(written, back, strict=True):
        _assert_same(a, b)


def test_segments_roll_and_replay_in_order(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path, fsync=True, segment_size=4096)
    list(wal.replay())
    for i in range(20):
        wal.append(_batch(i))
    wal.close()
    assert len(wal.segments()) > 3
    _, back = _replay(tmp_path)
    assert [r.series[0][0] for r in back if isinstance(r, WalBatch)] == list(range(20))


def test_checkpoint_replaces_older_segments(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path, fsync=False, segment_size=4096)
    list(wal.replay())
    for i in range(10):
        wal.append(_batch(i))
    wal.checkpoint([_batch(7), _batch(8)])
    wal.append(_batch(10))
    wal.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert sum(n.startswith("checkpoint.") for n in names) == 1
    _, back = _replay(tmp_path)
    assert [r.series[0][0] for r in back if isinstance(r, WalBatch)] == [7, 8, 10]


def _write_three(path: Path) -> Path:
    wal = WriteAheadLog(path, fsync=False)
    list(wal.replay())
    for i in range(3):
        wal.append(_batch(i))
    wal.close()
    (seg,) = [p for p in path.iterdir() if p.name.isdigit() and p.stat().st_size]
    return seg


def test_torn_tail_is_cut_and_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    seg = _write_three(tmp_path)
    size = seg.stat().st_size
    with open(seg, "r+b") as f:
        f.truncate(size - 100)  # the third record is now partial
    with caplog.at_level(logging.WARNING):
        _, back = _replay(tmp_path)
    assert [r.series[0][0] for r in back if isinstance(r, WalBatch)] == [0, 1]
    (msg,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert seg.name in msg and "kept 2 records" in msg and "dropping" in msg
    caplog.clear()
    _, again = _replay(tmp_path)  # the cut is permanent: no warning the second time
    assert len(again) == 2 and not caplog.records


@pytest.mark.parametrize("where", ["payload", "header"])
def test_flipped_byte_is_detected(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, where: str
) -> None:
    seg = _write_three(tmp_path)
    data = bytearray(seg.read_bytes())
    first_len = HEADER.unpack_from(data, 0)[2]
    second = HEADER.size + first_len
    pos = second + (HEADER.size + 10 if where == "payload" else 3)
    data[pos] ^= 0x40
    seg.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING):
        _, back = _replay(tmp_path)
    assert [r.series[0][0] for r in back if isinstance(r, WalBatch)] == [0]
    msg = caplog.records[-1].getMessage()
    assert f"at byte {second}" in msg and "kept 1 records" in msg
    assert seg.stat().st_size == second


def test_garbage_tail_and_later_segments(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    wal = WriteAheadLog(tmp_path, fsync=False, segment_size=2048)
    list(wal.replay())
    for i in range(6):
        wal.append(_batch(i))
    wal.close()
    segs = wal.segments()
    with open(tmp_path / f"{segs[1]:08d}", "ab") as f:
        f.write(b"\x00" * 37)
    with caplog.at_level(logging.WARNING):
        _, back = _replay(tmp_path)
    kept = [r.series[0][0] for r in back if isinstance(r, WalBatch)]
    assert kept == list(range(len(kept))) and len(kept) < 6
    msg = caplog.records[-1].getMessage()
    assert "dropping 37 bytes" in msg and "later segment" in msg


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cut=st.floats(0.0, 1.0), flip=st.one_of(st.none(), st.floats(0.0, 1.0)))
def test_any_damage_leaves_a_prefix(tmp_path: Path, cut: float, flip: float | None) -> None:
    """Truncation anywhere, plus maybe one flipped bit: replay yields a prefix, never raises."""
    d = tmp_path / f"w{abs(hash((cut, flip)))}"
    wal = WriteAheadLog(d, fsync=False)
    list(wal.replay())
    written = [_batch(i, n=3 + 40 * (i % 3)) for i in range(6)]
    for rec in written:
        wal.append(rec)
    wal.close()
    (seg,) = [p for p in d.iterdir() if p.stat().st_size]
    data = bytearray(seg.read_bytes())
    data = data[: int(len(data) * cut)]
    if flip is not None and data:
        data[min(int(len(data) * flip), len(data) - 1)] ^= 0x10
    seg.write_bytes(bytes(data))
    logging.disable(logging.WARNING)
    try:
        _, back = _replay(d)
    finally:
        logging.disable(logging.NOTSET)
    assert len(back) <= len(written)
    for a, b in zip(written, back, strict=False):
        _assert_same(a, b)


def test_group_commit_shares_one_sync_and_survives_reopen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records appended without sync wait for one fdatasync that covers them all; concurrent
    writers share syncs; segment rolls and close sync what is pending; replay has every record."""
    import os
    import threading
    import time

    synced_at: list[int] = []  # records written when each fdatasync started
    real = os.fdatasync
    wal = WriteAheadLog(tmp_path, fsync=True, segment_size=20_000)
    list(wal.replay())

    def slow_sync(fd: int) -> None:
        synced_at.append(wal._written)
        time.sleep(0.02)
        real(fd)

    monkeypatch.setattr(os, "fdatasync", slow_sync)
    seqs = [wal.append(_batch(i), sync=False) for i in range(3)]
    assert seqs == [1, 2, 3] and synced_at == []
    wal.sync(2)
    wal.sync(3)  # covered by the first sync
    assert synced_at == [3]
    head_lock = threading.Lock()
    acked: list[tuple[int, int]] = []  # (seq, syncs started so far covering it)

    def writer(k: int) -> None:
        for j in range(5):
            with head_lock:
                seq = wal.append(_batch(10 + 5 * k + j), sync=False)
            wal.sync(seq)
            acked.append((seq, sum(1 for upto in synced_at if upto >= seq)))

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(acked) == 20 and all(covered >= 1 for _, covered in acked)
    assert len(synced_at) < 1 + 20  # writers shared syncs (segments rolled too)
    assert len(wal.segments()) > 1
    wal.close()
    _, recs = _replay(tmp_path)
    assert len(recs) == 23
    got = sorted(int(r.refs[0]) for r in recs if isinstance(r, WalBatch))
    assert got == [0, 1, 2, *range(10, 30)]
