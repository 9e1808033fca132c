"""Bulk import: history straight to large blocks, bit-exact, durable, never counted twice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from openmanager.config.settings import StorageSettings
from openmanager.samples import STALE_NAN, SampleBatch, make_labels
from openmanager.tsdb.block_format import HOUR_MS
from openmanager.tsdb.bulk import import_span_ms
from openmanager.tsdb.engine import T_MAX, T_MIN, EmbeddedStorage
from openmanager.tsdb.matchers import Matcher, MatchType

DAY = 24 * HOUR_MS
T0 = 1_704_067_200_000  # 2024-01-01T00:00Z, a day boundary
ALL = [Matcher("__name__", MatchType.RE, ".+")]
NOW = T0 + 30 * DAY


def _store(path: Path) -> EmbeddedStorage:
    return EmbeddedStorage(path, StorageSettings(path=path, wal_fsync=False), now_ms=lambda: NOW)


def _batch(n_series: int, start: int, n: int, seed: int = 1) -> SampleBatch:
    rng = np.random.default_rng(seed)
    items = []
    for i in range(n_series):
        ts = start + 15_000 * np.arange(n, dtype=np.int64)
        vs = np.round(rng.normal(50, 10, n), 2)
        items.append((make_labels(f"m{i % 3}", {"host": f"h{i}"}), ts, vs))
    return SampleBatch.from_series(items)


def _read(st: EmbeddedStorage) -> dict[tuple[tuple[str, str], ...], tuple[bytes, bytes]]:
    return {
        s.labels: (s.timestamps.tobytes(), s.values.view(np.uint64).tobytes())
        for s in st.select(ALL, T_MIN, T_MAX)
    }


def test_import_writes_day_blocks_that_read_back_bit_exact(tmp_path: Path) -> None:
    odd = np.array([np.nan, STALE_NAN, np.inf, -np.inf, -0.0, 5e-324, 1.7976931348623157e308])
    batch = _batch(4, T0 + HOUR_MS, 2 * 5760)  # two days from 01:00
    odd_ts = T0 + 15_000 * np.arange(len(odd), dtype=np.int64)
    odd_batch = SampleBatch.from_series([(make_labels("odd", {}), odd_ts, odd)])
    with _store(tmp_path / "d") as st:
        first = st.import_batch(batch)
        second = st.import_batch(odd_batch)
        assert (first.stored, first.blocks) == (len(batch), 3)  # days 1, 2 and the 1h of day 3
        assert second.stored == len(odd)
        raw = st.blocks.blocks("raw")  # type: ignore[attr-defined]
        assert all(m.max_time - m.min_time < DAY for m in raw)
        assert st.stats().samples == len(batch) + len(odd)
        assert st.stats().head_samples == 0 and st.wal.size_bytes() < 1024
        before = _read(st)
    with _store(tmp_path / "d") as st:  # durable: reopened from disk alone
        assert _read(st) == before
        got = {
            s.labels: s for s in st.select([Matcher("__name__", MatchType.EQ, "odd")], T_MIN, T_MAX)
        }
        assert (
            got[make_labels("odd", {})].values.view(np.uint64).tolist()
            == odd.view(np.uint64).tolist()
        )
    expected = {}
    for lbl, ts, vs in _by_series(batch):
        expected[lbl] = (ts.tobytes(), vs.view(np.uint64).tobytes())
    assert {k: v for k, v in before.items() if k != make_labels("odd", {})} == expected


def _by_series(
    batch: SampleBatch,
) -> list[tuple[tuple[tuple[str, str], ...], np.ndarray, np.ndarray]]:
    out = []
    for ref, lbl in enumerate(batch.series):
        m = batch.series_ref == ref
        out.append((lbl, batch.timestamps[m], batch.values[m]))
    return out


def test_reimport_and_overlap_are_merged_not_counted_twice(tmp_path: Path) -> None:
    batch = _batch(3, T0, 5760)
    with _store(tmp_path / "d") as st:
        st.import_batch(batch)
        again = st.import_batch(batch)
        assert again.already_stored == len(batch) and again.stored == 0
        assert st.stats().samples == len(batch)
        # half a day more of the same series, overlapping the second half of the first import
        later = _batch(3, T0 + DAY // 2, 5760, seed=1)
        res = st.import_batch(later)
        new = len(later) // 2
        assert res.stored == new and res.merges >= 1
        assert st.stats().samples == len(batch) + new
        assert len(st.blocks.blocks("raw")) == 2  # type: ignore[attr-defined]
        series = st.select(ALL, T_MIN, T_MAX)
        assert sum(len(s.timestamps) for s in series) == len(batch) + new
        for s in series:
            assert bool(np.all(np.diff(s.timestamps) > 0))


def test_duplicates_and_conflicts_inside_one_import(tmp_path: Path) -> None:
    lbl = make_labels("up", {"job": "x"})
    ts = np.array([T0, T0 + 15_000, T0 + 15_000, T0 + 30_000, T0 + 30_000], dtype=np.int64)
    vs = np.array([1.0, 2.0, 2.0, 3.0, 4.0])
    with _store(tmp_path / "d") as st:
        res = st.import_batch(SampleBatch.from_series([(lbl, ts, vs)]))
        assert (res.written, res.input_duplicates, res.conflicts) == (3, 1, 1)
        assert any("different value" in e and "up{" in e for e in res.errors)
        (s,) = st.select(ALL, T_MIN, T_MAX)
        assert s.values.tolist() == [1.0, 2.0, 3.0]  # the first of conflicting values is kept


def test_recent_samples_go_through_the_head_and_bad_input_is_named(tmp_path: Path) -> None:
    with _store(tmp_path / "d") as st:
        recent = _batch(2, NOW - HOUR_MS, 10)
        assert st.append(recent).accepted == len(recent)
        head_start = st.head_start_ms()
        assert head_start == NOW - HOUR_MS
        old = _batch(2, NOW - 3 * DAY, 40)
        newer = _batch(2, NOW - HOUR_MS + 150_000, 10)
        future = SampleBatch.from_series([(make_labels("f", {}), [NOW + DAY], [1.0])])
        bad = SampleBatch.from_series([((("__name__", "x"), ("bad-name", "v")), [T0], [1.0])])
        with st.bulk_import() as session:
            for b in (old, newer, future, bad):
                session.add(b)
        s = session.summary
        assert s.via_head.accepted == len(newer) and s.stored == len(old)
        assert s.added.too_far_in_future == 1 and s.added.rejected_series == 1
        assert any("bad-name" in e for e in s.added.errors)
        assert any("future" in e and "f{" in e for e in s.added.errors)
        assert st.stats().samples == len(recent) + len(old) + len(newer)
        assert st.stats().head_samples == len(recent) + len(newer)


def test_memory_bound_flushes_early_and_still_merges(tmp_path: Path) -> None:
    batch = _batch(2, T0, 5760)
    with _store(tmp_path / "d") as st:
        with st.bulk_import(max_buffered=1000) as session:
            for ref in range(2):
                m = batch.series_ref == ref
                idx = np.flatnonzero(m)
                for part in (idx[k::4] for k in range(4)):  # interleaved: overlapping flushes
                    session.add(
                        SampleBatch(
                            batch.series,
                            batch.series_ref[part],
                            batch.timestamps[part],
                            batch.values[part],
                        )
                    )
        assert session.summary.stored == len(batch) and session.summary.merges >= 1
        assert st.stats().samples == len(batch)
        assert len(st.blocks.blocks("raw")) == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("retention", "span"),
    [(7 * DAY, DAY), (30 * DAY, DAY), (2 * DAY, 6 * HOUR_MS), (HOUR_MS, 2 * HOUR_MS), (0, DAY)],
)
def test_import_span_follows_raw_retention(retention: int, span: int) -> None:
    assert import_span_ms(retention) == span


def test_identical_chunks_are_stored_once(tmp_path: Path) -> None:
    """A histogram's +Inf bucket equals its _count: the block keeps those bytes once."""
    ts = T0 + 15_000 * np.arange(5760, dtype=np.int64)
    count = np.cumsum(np.random.default_rng(3).poisson(5, 5760)).astype(np.float64)
    other = count * 0.5
    inf = make_labels("lat_bucket", {"le": "+Inf"})
    cnt = make_labels("lat_count", {})
    half = make_labels("lat_sum", {})
    sizes = []
    for name, items in (
        ("one", [(cnt, ts, count), (half, ts, other)]),
        ("two", [(inf, ts, count), (cnt, ts, count), (half, ts, other)]),
    ):
        with _store(tmp_path / name) as st:
            st.import_batch(SampleBatch.from_series(items))
            (meta,) = st.blocks.blocks("raw")  # type: ignore[attr-defined]
            sizes.append((tmp_path / name / "blocks" / "raw" / meta.id / "chunks").stat().st_size)
            got = {s.labels: s for s in st.select(ALL, T_MIN, T_MAX)}
            for lbl, _, vs in items:
                assert got[lbl].values.view(np.uint64).tolist() == vs.view(np.uint64).tolist()
                assert got[lbl].timestamps.tolist() == ts.tolist()
        with _store(tmp_path / name) as st:  # reopened: the shared reference survives
            got = {s.labels: s for s in st.select(ALL, T_MIN, T_MAX)}
            assert got[cnt].values.tolist() == count.tolist()
    assert sizes[0] == sizes[1]


def test_parallel_block_writes_match_one_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Blocks written by forked workers hold exactly what one writer stores, their ids keep
    window order, and a later re-import still merges with them (newest wins)."""
    import openmanager.tsdb.blockstore as bs
    import openmanager.tsdb.forkmap as fm

    batch = _batch(6, T0 + HOUR_MS, 3 * 5760)  # four day windows
    with _store(tmp_path / "one") as st:
        st.import_batch(batch)
        serial = _read(st)
        serial_blocks = [(m.min_time, m.num_samples) for m in st.blocks.blocks("raw")]  # type: ignore[attr-defined]
    monkeypatch.setattr(bs, "PARALLEL_IMPORT_SAMPLES", 1)
    monkeypatch.setattr(fm, "default_workers", lambda: 2)  # even on a one-CPU runner
    with _store(tmp_path / "two") as st:
        outcome = st.import_batch(batch)
        assert (outcome.stored, outcome.blocks) == (len(batch), 4)
        raw = st.blocks.blocks("raw")  # type: ignore[attr-defined]
        assert [(m.min_time, m.num_samples) for m in raw] == serial_blocks
        ids = [m.id for m in sorted(raw, key=lambda m: m.min_time)]
        assert ids == sorted(ids)
        assert _read(st) == serial
        again = st.import_batch(batch)
        assert again.stored == 0 and st.stats().samples == len(batch)
    with _store(tmp_path / "two") as st:
        assert _read(st) == serial


def test_fork_map_keeps_order_and_raises_child_errors() -> None:
    """Results come back in item order from the children (closures work); a child's
    exception is raised in the caller."""
    from openmanager.tsdb.forkmap import fork_map

    base = np.arange(10)
    assert fork_map(lambda i: int(base[i] * 2), list(range(10)), 3) == [2 * i for i in range(10)]
    assert fork_map(lambda i: i + 1, [1, 2], 1) == [2, 3]

    def boom(i: int) -> int:
        if i == 3:
            raise ValueError("bad item 3")
        return i

    with pytest.raises(ValueError, match="bad item 3"):
        fork_map(boom, list(range(5)), 2)
