"""Block files: write/read round trip bit for bit, index encoding, chunking, atomic writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openmanager.errors import InvalidInput
from openmanager.samples import STALE_NAN, SeriesMeta, make_labels
from openmanager.tsdb.block import Block
from openmanager.tsdb.block_format import TMP_SUFFIX, BlockMeta, new_block_id
from openmanager.tsdb.block_index import decode_index, encode_index
from openmanager.tsdb.block_tombstones import covers, keep_mask, merge_intervals
from openmanager.tsdb.block_writer import BlockWriter, chunk_bounds
from openmanager.tsdb.matchers import Matcher, MatchType

HOUR = 3_600_000

SPECIAL = np.array(
    [0.0, -0.0, np.inf, -np.inf, np.nan, STALE_NAN, 5e-324, 1.7976931348623157e308, 0.1, -3.25]
)


def _bits(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float64).view(np.uint64)


def test_round_trip_is_bit_identical_across_chunks(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    ts = np.cumsum(rng.integers(1, 30_000, 5000)).astype(np.int64) - 10_000_000
    vs = rng.normal(size=5000)
    vs[::97] = SPECIAL[np.arange(len(vs[::97])) % len(SPECIAL)]
    labels = make_labels("m", {"a": 'ü\u00e9\n"x', "b": ""})
    with BlockWriter(tmp_path, "raw", chunk_span_ms=HOUR, max_chunk_samples=300) as w:
        w.add(labels, ts, [vs])
        meta = w.commit({"m": SeriesMeta("gauge", "help text", "seconds")})
    assert meta.num_chunks > 5000 // 300
    block = Block(tmp_path / meta.id)
    assert block.labels == [labels]
    assert block.index.metadata == {"m": SeriesMeta("gauge", "help text", "seconds")}
    got_ts, got = block.read(0, int(ts[0]), int(ts[-1]))
    np.testing.assert_array_equal(got_ts, ts)
    np.testing.assert_array_equal(_bits(got[0]), _bits(vs))
    # an inner range reads only what it asks for, inclusive at both ends
    lo, hi = int(ts[1000]), int(ts[1999])
    part_ts, part = block.read(0, lo, hi)
    np.testing.assert_array_equal(part_ts, ts[1000:2000])
    np.testing.assert_array_equal(_bits(part[0]), _bits(vs[1000:2000]))
    assert meta.min_time == ts[0] and meta.max_time == ts[-1] and meta.num_samples == 5000


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), min_size=1, max_size=200),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.integers(min_value=1, max_value=10**6),
)
def test_round_trip_any_values(values: list[float], start: int, step: int) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        ts = start + step * np.arange(len(values), dtype=np.int64)
        vs = np.array(values, dtype=np.float64)
        with BlockWriter(Path(d), "raw", chunk_span_ms=7 * step + 1) as w:
            w.add(make_labels("x", {}), ts, [vs])
            meta = w.commit({})
        got_ts, got = Block(Path(d) / meta.id).read(0, int(ts[0]), int(ts[-1]))
        np.testing.assert_array_equal(got_ts, ts)
        np.testing.assert_array_equal(_bits(got[0]), _bits(vs))


def test_matchers_select_ordinals(tmp_path: Path) -> None:
    ts = np.arange(0, 60_000, 15_000, dtype=np.int64)
    labels = sorted(
        make_labels("up", {"job": job, "instance": f"h{i}"})
        for job in ("api", "db", "web")
        for i in range(3)
    )
    with BlockWriter(tmp_path, "raw", chunk_span_ms=HOUR) as w:
        for lbl in labels:
            w.add(lbl, ts, [np.ones(len(ts))])
        meta = w.commit({})
    block = Block(tmp_path / meta.id)

    def names(*ms: Matcher) -> set[str]:
        return {
            dict(block.labels[i])["job"] + dict(block.labels[i])["instance"]
            for i in block.select(ms, 0, 10**9)
        }

    assert names(Matcher("job", MatchType.EQ, "db")) == {"dbh0", "dbh1", "dbh2"}
    assert len(names(Matcher("job", MatchType.NEQ, "db"))) == 6
    assert names(
        Matcher("job", MatchType.RE, "a.*|w.b"), Matcher("instance", MatchType.EQ, "h1")
    ) == {"apih1", "webh1"}
    assert names(Matcher("instance", MatchType.NRE, "h[01]")) == {"apih2", "dbh2", "webh2"}
    assert len(block.select((), 45_000, 45_000)) == 9
    assert len(block.select((), 45_001, 10**9)) == 0


def test_index_round_trip_and_compactness() -> None:
    labels = [make_labels("m", {"i": str(i), "dc": "dc-1"}) for i in range(1000)]
    labels.sort()
    n = len(labels)
    mint = np.full(n, 1_000, dtype=np.int64)
    maxt = np.full(n, 7_200_000, dtype=np.int64)
    data = encode_index(
        labels, [1] * n, mint, maxt, np.full(n, 480), np.full((n, 1), 900), {}, 1_000
    )
    idx = decode_index(data)
    assert idx.labels == labels
    np.testing.assert_array_equal(idx.chunk_mint, mint)
    np.testing.assert_array_equal(idx.chunk_maxt, maxt)
    np.testing.assert_array_equal(idx.chunk_offset[:, 0], np.arange(n) * 900)
    assert len(data) < 6 * n  # a few bytes per series
    with pytest.raises(InvalidInput):
        decode_index(b"OMIX" + data[4:20])


def test_writer_rejects_bad_order(tmp_path: Path) -> None:
    with BlockWriter(tmp_path, "raw", chunk_span_ms=HOUR) as w:
        w.add(make_labels("b", {}), np.array([1, 2]), [np.zeros(2)])
        with pytest.raises(InvalidInput):
            w.add(make_labels("a", {}), np.array([1, 2]), [np.zeros(2)])
        with pytest.raises(InvalidInput):
            w.add(make_labels("c", {}), np.array([2, 2]), [np.zeros(2)])
        w.abort()
    assert list(tmp_path.iterdir()) == []


def test_failed_write_leaves_no_block(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), BlockWriter(tmp_path, "raw", chunk_span_ms=HOUR) as w:
        w.add(make_labels("a", {}), np.array([1]), [np.zeros(1)])
        raise RuntimeError("disk on fire")
    assert list(tmp_path.iterdir()) == []
    assert not any(p.name.endswith(TMP_SUFFIX) for p in tmp_path.iterdir())


def test_chunk_bounds_cut_at_span_and_size() -> None:
    ts = np.arange(0, 10 * HOUR, 15_000, dtype=np.int64)
    bounds = chunk_bounds(ts, 2 * HOUR, 100_000)
    assert [ts[b - 1] - ts[a] for a, b in bounds] == [2 * HOUR - 15_000] * 5
    small = chunk_bounds(ts, 2 * HOUR, 100)
    assert all(b - a <= 100 for a, b in small)
    assert small[0][0] == 0 and small[-1][1] == len(ts)
    assert all(x[1] == y[0] for x, y in zip(small, small[1:], strict=False))
    ends = np.arange(60_000, 4 * HOUR + 1, 60_000, dtype=np.int64)  # rollup window ends
    assert chunk_bounds(ends, 2 * HOUR, 10_000, right_closed=True) == [(0, 120), (120, 240)]


def test_block_ids_increase_and_meta_round_trips() -> None:
    ids = [new_block_id() for _ in range(200)]
    assert ids == sorted(ids) and len(set(ids)) == 200 and all(len(i) == 26 for i in ids)
    meta = BlockMeta(ids[0], 1, 2, 0, "raw", 3, 4, 2, (ids[0],), extra={"parents": ["x"]})
    assert BlockMeta.from_json(meta.to_json()) == meta
    with pytest.raises(InvalidInput):
        BlockMeta.from_json('{"version": 99}')


def test_tombstone_intervals() -> None:
    assert merge_intervals([(5, 9), (1, 3), (4, 4), (20, 30)]) == [(1, 9), (20, 30)]
    ts = np.arange(10, dtype=np.int64)
    np.testing.assert_array_equal(
        np.flatnonzero(keep_mask(ts, [(2, 4), (8, 100)])), [0, 1, 5, 6, 7]
    )
    assert covers([(0, 5), (6, 10)], 2, 9) and not covers([(0, 5), (7, 10)], 2, 9)


def test_identical_rollup_columns_are_stored_once(tmp_path: Path) -> None:
    ts = np.arange(60_000, 60_000 * 101, 60_000, dtype=np.int64)
    v = np.sin(np.arange(100.0))
    v[3] = np.nan
    cols = [v, v.copy(), v.copy(), np.ones(100), v.copy(), None]  # one sample per window
    with BlockWriter(tmp_path, "1m", chunk_span_ms=HOUR) as w:
        w.add(make_labels("g", {}), ts, cols)
        meta = w.commit({})
    block = Block(tmp_path / meta.id)
    assert meta.columns == ("min", "max", "sum", "count", "last", "increase")
    assert set(block.index.chunk_alias[:, 1].tolist()) == {1}
    assert set(block.index.chunk_alias[:, 4].tolist()) == {1}
    got_ts, got = block.read(0, 0, 10**9)
    np.testing.assert_array_equal(got_ts, ts)
    for k, col in enumerate(cols):
        want = np.full(100, np.nan) if col is None else col
        np.testing.assert_array_equal(_bits(got[k]), _bits(want))


def test_damaged_index_is_detected() -> None:
    labels = [make_labels("m", {"i": str(i)}) for i in range(50)]
    n = len(labels)
    zeros = np.zeros(n, dtype=np.int64)
    data = encode_index(labels, [1] * n, zeros, zeros + 5, zeros + 3, np.full((n, 1), 9), {}, 0)
    for pos in range(9, len(data), max(1, len(data) // 40)):
        damaged = bytearray(data)
        damaged[pos] ^= 0x5A
        with pytest.raises(InvalidInput):
            decode_index(bytes(damaged))
