"""EmbeddedStorage over the real block store: cuts, merge of head and blocks, reopen, delete."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from openmanager.config.settings import StorageSettings
from openmanager.errors import ConfigError, Unavailable
from openmanager.samples import (
    STALE_NAN,
    Float64Array,
    Int64Array,
    Labels,
    SampleBatch,
    SeriesMeta,
    make_labels,
)
from openmanager.tsdb.engine import EmbeddedStorage
from openmanager.tsdb.factory import open_storage
from openmanager.tsdb.matchers import Matcher, MatchType, eq
from openmanager.tsdb.storage import Series
from tests.tsdb.conftest import FakeClock

HOUR = 3_600_000
STEP = 60_000
T0 = 1_700_006_400_000 - 6 * HOUR  # block-aligned (multiple of 2h)
SERIES = [make_labels("node_load1", {"instance": f"h{i}", "job": "node"}) for i in range(4)]


def _values(i: int, ts: Int64Array) -> Float64Array:
    v = np.sin(ts / 1e6 + i) * 100 + i
    v[ts % (37 * STEP) == 0] = STALE_NAN
    return v


def _feed(store: EmbeddedStorage, clock: FakeClock, start: int, end: int) -> None:
    """Append one sample per series per minute, one batch per 10 minutes, advancing the clock."""
    for lo in range(start, end, 10 * STEP):
        ts = np.arange(lo, min(lo + 10 * STEP, end), STEP, dtype=np.int64)
        clock.now = int(ts[-1])
        items = [(lbl, ts, _values(i, ts)) for i, lbl in enumerate(SERIES)]
        res = store.append(
            SampleBatch.from_series(items, {"node_load1": SeriesMeta("gauge", "1m load")})
        )
        assert res.accepted == len(ts) * len(SERIES) and not res.errors


def _expected(start: int, end: int) -> list[tuple[Labels, list[int], list[int]]]:
    ts = np.arange(start, end, STEP, dtype=np.int64)
    return [
        (lbl, ts.tolist(), _values(i, ts).view(np.uint64).tolist()) for i, lbl in enumerate(SERIES)
    ]


def _got(series: list[Series]) -> list[tuple[Labels, list[int], list[int]]]:
    return [(s.labels, s.timestamps.tolist(), s.values.view(np.uint64).tolist()) for s in series]


@pytest.fixture
def settings(tmp_path: Path) -> StorageSettings:
    return StorageSettings(path=tmp_path / "db", wal_fsync=False)


def test_cut_to_blocks_merge_and_reopen(settings: StorageSettings, clock: FakeClock) -> None:
    store = EmbeddedStorage(settings.path, settings, now_ms=clock)
    _feed(store, clock, T0, T0 + 5 * HOUR)
    stats = store.stats()
    raw = next(t for t in stats.tiers if t.name == "raw")
    assert raw.samples > 0 and stats.head_samples > 0
    assert raw.samples + stats.head_samples == 5 * 60 * len(SERIES) == stats.samples
    assert stats.series == len(SERIES) and stats.bytes_on_disk > 0
    head_span = store.head.time_range()
    assert head_span is not None and head_span[1] - head_span[0] <= 3 * HOUR
    want = _expected(T0, T0 + 5 * HOUR)
    assert _got(store.select([eq("job", "node")], T0, T0 + 5 * HOUR)) == want
    # Inclusive range ends, across the block/head boundary.
    (s,) = store.select([eq("instance", "h1")], T0 + 4 * HOUR, T0 + 4 * HOUR + 2 * STEP)
    assert s.timestamps.tolist() == [T0 + 4 * HOUR + k * STEP for k in range(3)]
    store.close()
    wal_files = sorted(p.name for p in (settings.path / "wal").iterdir())
    assert any(n.startswith("checkpoint.") for n in wal_files)

    again = EmbeddedStorage(settings.path, settings, now_ms=clock)
    assert _got(again.select([eq("job", "node")], T0, T0 + 5 * HOUR)) == want
    assert again.metadata() == {"node_load1": SeriesMeta("gauge", "1m load")}
    # Appends continue where they stopped, and a replayed duplicate stays a duplicate.
    _feed(again, clock, T0 + 5 * HOUR, T0 + 6 * HOUR)
    res = again.append(SampleBatch.from_series([(SERIES[0], [T0 + 6 * HOUR - STEP], [0.0])]))
    assert res.out_of_order == 1
    assert _got(again.select([eq("job", "node")], T0, T0 + 6 * HOUR)) == _expected(
        T0, T0 + 6 * HOUR
    )
    again.close()


def test_second_open_of_same_dir_is_refused(settings: StorageSettings, clock: FakeClock) -> None:
    store = EmbeddedStorage(settings.path, settings, now_ms=clock)
    with pytest.raises(Unavailable, match="in use by another process"):
        EmbeddedStorage(settings.path, settings, now_ms=clock)
    store.close()
    EmbeddedStorage(settings.path, settings, now_ms=clock).close()


def test_labels_series_and_metadata(settings: StorageSettings, clock: FakeClock) -> None:
    with EmbeddedStorage(settings.path, settings, now_ms=clock) as store:
        _feed(store, clock, T0, T0 + 4 * HOUR)  # some in blocks, some in the head
        other = make_labels("up", {"job": "prom", "zone": "a"})
        clock.now = T0 + 4 * HOUR
        store.append(SampleBatch.from_series([(other, [clock.now], [1.0])]))
        assert store.label_names() == ["__name__", "instance", "job", "zone"]
        assert store.label_names([eq("__name__", "node_load1")]) == ["__name__", "instance", "job"]
        assert store.label_values("job") == ["node", "prom"]
        assert store.label_values("job", start_ms=T0, end_ms=T0 + HOUR) == ["node"]
        assert store.series([Matcher("instance", MatchType.RE, "h[01]")], T0, T0 + HOUR) == sorted(
            SERIES[:2]
        )
        assert store.series([eq("job", "prom")], T0, T0 + HOUR) == []
        assert set(store.metadata()) == {"node_load1"}
        assert store.metadata("nope") == {}


def test_delete_series_in_head_and_blocks_survives_reopen(
    settings: StorageSettings, clock: FakeClock
) -> None:
    store = EmbeddedStorage(settings.path, settings, now_ms=clock)
    _feed(store, clock, T0, T0 + 4 * HOUR)
    lo, hi = T0 + HOUR, T0 + 3 * HOUR + 30 * STEP  # spans blocks and head
    assert store.delete_series([eq("instance", "h2")], lo, hi) == 1
    (s,) = store.select([eq("instance", "h2")], T0, T0 + 4 * HOUR)
    assert not np.any((s.timestamps >= lo) & (s.timestamps <= hi))
    assert len(s.timestamps) == 4 * 60 - (hi - lo) // STEP - 1
    store.close()
    with EmbeddedStorage(settings.path, settings, now_ms=clock) as again:
        (s2,) = again.select([eq("instance", "h2")], T0, T0 + 4 * HOUR)
        assert s2.timestamps.tolist() == s.timestamps.tolist()
        assert len(again.select([eq("instance", "h3")], T0, T0 + 4 * HOUR)[0].timestamps) == 240


def test_flush_moves_everything_to_blocks(settings: StorageSettings, clock: FakeClock) -> None:
    with EmbeddedStorage(settings.path, settings, now_ms=clock) as store:
        _feed(store, clock, T0, T0 + HOUR)
        store.flush()
        st = store.stats()
        assert st.head_samples == 0 and st.head_series == 0
        assert _got(store.select([eq("job", "node")], T0, T0 + HOUR)) == _expected(T0, T0 + HOUR)
        # Late data for the same range still lands (in the head) and merges on read.
        late = make_labels("node_load1", {"instance": "late", "job": "node"})
        store.append(SampleBatch.from_series([(late, [T0], [7.0])]))
        assert len(store.select([eq("job", "node")], T0, T0)) == 5


def test_concurrent_appends_and_reads(settings: StorageSettings, clock: FakeClock) -> None:
    clock.now = T0 + 10 * HOUR
    errors: list[BaseException] = []
    with EmbeddedStorage(settings.path, settings, now_ms=clock) as store:

        def writer(k: int) -> None:
            try:
                lbl = make_labels("w", {"k": str(k)})
                for j in range(200):
                    store.append(SampleBatch.from_series([(lbl, [T0 + j * STEP], [float(j)])]))
            except BaseException as exc:  # noqa: BLE001 - surfaced to the test below
                errors.append(exc)

        def reader() -> None:
            try:
                for _ in range(100):
                    store.select([eq("__name__", "w")], T0, T0 + 10 * HOUR)
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(k,)) for k in range(3)]
        threads.append(threading.Thread(target=reader))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        got = store.select([eq("__name__", "w")], T0, T0 + 10 * HOUR)
        assert [len(s.timestamps) for s in got] == [200, 200, 200]


def test_factory_opens_embedded(settings: StorageSettings) -> None:
    store = open_storage(settings)
    try:
        assert isinstance(store, EmbeddedStorage)
    finally:
        store.close()


def test_bad_input_rejects_only_the_bad_part(settings: StorageSettings, clock: FakeClock) -> None:
    good = make_labels("up", {"job": "a"})
    bad = (("__name__", "up"), ("bad name", "x"))
    with EmbeddedStorage(settings.path, settings, now_ms=clock) as store:
        batch = SampleBatch(
            [good, bad],
            np.array([0, 1, 0], dtype=np.int64),
            np.array([clock.now, clock.now, clock.now + 3 * HOUR], dtype=np.int64),
            np.array([1.0, 2.0, 3.0]),
        )
        res = store.append(batch)
        assert (res.accepted, res.rejected_series, res.too_far_in_future) == (1, 1, 1)
        assert "invalid label name 'bad name'" in res.errors[0]
        assert "too far in the future: up{job='a'}" in res.errors[1]
        assert [s.labels for s in store.select([eq("__name__", "up")], 0, 2**62)] == [good]


def test_corrupted_wal_tail_is_cut_on_open(
    settings: StorageSettings, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    with EmbeddedStorage(settings.path, settings, now_ms=clock) as store:
        _feed(store, clock, T0, T0 + 30 * STEP)  # 3 batches, all in the head
    (seg,) = [p for p in (settings.path / "wal").iterdir() if p.stat().st_size]
    with open(seg, "r+b") as f:
        f.truncate(seg.stat().st_size - 5)
    with EmbeddedStorage(settings.path, settings, now_ms=clock) as again:
        got = _got(again.select([eq("job", "node")], T0, T0 + HOUR))
    assert got == _expected(T0, T0 + 20 * STEP)
    assert any("dropping" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)


def test_late_data_for_an_already_cut_range(settings: StorageSettings, clock: FakeClock) -> None:
    with EmbeddedStorage(settings.path, settings, now_ms=clock) as store:
        _feed(store, clock, T0, T0 + 4 * HOUR)
        newcomer = make_labels("node_load1", {"instance": "new", "job": "node"})
        old_ts = np.arange(T0, T0 + HOUR, STEP, dtype=np.int64)
        res = store.append(SampleBatch.from_series([(newcomer, old_ts, old_ts.astype(float))]))
        assert res.accepted == 60
        _feed(store, clock, T0 + 4 * HOUR, T0 + 6 * HOUR)  # cuts again, overlapping blocks
        (s,) = store.select([eq("instance", "new")], T0, T0 + 6 * HOUR)
        assert s.timestamps.tolist() == old_ts.tolist()
        assert store.stats().samples == 6 * 60 * len(SERIES) + 60


def test_crash_between_block_write_and_wal_cut(
    settings: StorageSettings, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = EmbeddedStorage(settings.path, settings, now_ms=clock)
    real_append = store.wal.append

    def dying_append(rec: object, *, sync: bool = True) -> int:
        if type(rec).__name__ == "WalCut":
            raise OSError("simulated crash before the cut record")
        return real_append(rec, sync=sync)  # type: ignore[arg-type]

    monkeypatch.setattr(store.wal, "append", dying_append)
    _feed(store, clock, T0, T0 + 4 * HOUR)  # the cut fails after writing blocks
    assert store.stats().tiers[0].samples > 0
    store.wal.close()  # the process "dies": nothing else is flushed
    store._dirlock.release()
    with EmbeddedStorage(settings.path, settings, now_ms=clock) as again:
        # The head still has everything (WAL replay); blocks have part of it: read once each.
        assert _got(again.select([eq("job", "node")], T0, T0 + 4 * HOUR)) == _expected(
            T0, T0 + 4 * HOUR
        )


def test_zero_block_duration_is_a_config_error(tmp_path: Path) -> None:
    bad = StorageSettings(path=tmp_path / "db", block_duration="0s")
    with pytest.raises(ConfigError, match="block_duration"):
        EmbeddedStorage(bad.path, bad)
    EmbeddedStorage(bad.path, StorageSettings(path=bad.path)).close()  # lock was released


def test_maintain_downsamples_blocks_and_rollups_are_readable(
    settings: StorageSettings, clock: FakeClock
) -> None:
    with EmbeddedStorage(settings.path, settings, now_ms=clock) as store:
        _feed(store, clock, T0, T0 + 8 * HOUR)
        clock.now = T0 + 30 * HOUR  # long after the period, so the block store rolls it up
        store.maintain()
        tiers = {t.name: t for t in store.stats().tiers}
        assert tiers["1m"].samples > 0
        rollups = store.select_rollup([eq("instance", "h0")], T0, T0 + 2 * HOUR, 60_000)
        assert len(rollups) == 1 and len(rollups[0].timestamps) > 0
        # One sample a minute: each 1m window's last (and min, max) is that sample.
        raw_ts = np.arange(T0, T0 + 2 * HOUR + 1, STEP, dtype=np.int64)
        raw = _values(0, raw_ts)
        fresh = ~np.isnan(raw)
        roll = rollups[0]
        assert roll.timestamps.tolist() == raw_ts[fresh].tolist()
        assert np.array_equal(roll.last, raw[fresh]) and np.array_equal(
            roll.count, np.ones(fresh.sum())
        )
        assert store.best_resolution(T0, T0 + HOUR, 5 * 60_000) in (0, 60_000, 300_000)
