"""The decoded-chunk LRU: reads hit it, results equal uncached reads, budget and close hold."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from openmanager.samples import SeriesMeta, make_labels
from openmanager.tsdb.block import Block
from openmanager.tsdb.block_cache import ChunkCache, chunk_cache
from openmanager.tsdb.block_writer import BlockWriter

HOUR = 3_600_000


def _block(tmp_path: Path) -> tuple[Block, np.ndarray, np.ndarray]:
    ts = np.arange(0, 6 * HOUR, 10_000, dtype=np.int64)
    vs = np.sin(ts / 1e6)
    with BlockWriter(tmp_path, "raw", chunk_span_ms=HOUR, max_chunk_samples=10_000) as w:
        w.add(make_labels("m", {"a": "1"}), ts, [vs])
        meta = w.commit({"m": SeriesMeta("gauge", "", "")})
    return Block(tmp_path / meta.id), ts, vs


def test_second_read_hits_cache_and_is_identical(tmp_path: Path) -> None:
    block, ts, vs = _block(tmp_path)
    hits = chunk_cache.hits
    t1, c1 = block.read(0, HOUR, 3 * HOUR)
    assert chunk_cache.hits == hits
    t2, c2 = block.read(0, HOUR + 1, 3 * HOUR)
    assert chunk_cache.hits > hits
    sel = (ts >= HOUR) & (ts <= 3 * HOUR)
    assert np.array_equal(t1, ts[sel]) and np.array_equal(c1[0], vs[sel])
    assert np.array_equal(t2, ts[sel][1:]) and np.array_equal(c2[0], vs[sel][1:])
    _, one_chunk = block.read(0, HOUR + 10_000, HOUR + 20_000)  # a view of a cached chunk
    with pytest.raises(ValueError):
        one_chunk[0, 0] = 1.0  # cached arrays are shared, so they must be read-only
    block.close()
    assert chunk_cache.get((block._token, 0)) is None


def test_lru_evicts_oldest_within_budget() -> None:
    cache = ChunkCache(max_bytes=3 * 16 * 10)
    for i in range(4):
        cache.put((1, i), np.arange(10, dtype=np.int64), np.zeros((1, 10)))
    assert cache.bytes <= cache.max_bytes and len(cache) == 3
    assert cache.get((1, 0)) is None and cache.get((1, 3)) is not None
    cache.drop_block(1)
    assert len(cache) == 0 and cache.bytes == 0
