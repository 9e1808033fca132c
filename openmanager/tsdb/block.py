"""Read side of an immutable block: index cached in memory, chunks read lazily from an mmap.

Opening a block reads `meta.json`, the (small, compressed) index and any tombstones, and
maps the chunks file; postings are built from the label sets on first use. Reads decode only
the chunks overlapping the asked range and drop tombstoned samples.
"""

from __future__ import annotations

import mmap
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from openmanager.samples import Int64Array, Labels
from openmanager.tsdb.block_cache import chunk_cache, new_token
from openmanager.tsdb.block_format import (
    CHUNKS_FILE,
    INDEX_FILE,
    META_FILE,
    TOMBSTONES_FILE,
    BlockMeta,
    dir_size,
)
from openmanager.tsdb.block_index import decode_index
from openmanager.tsdb.block_tombstones import (
    Tombstones,
    covers,
    keep_mask,
    merge_intervals,
    read_tombstones,
    write_tombstones,
)
from openmanager.tsdb.codec import decode_chunk
from openmanager.tsdb.index import IdArray, PostingsIndex
from openmanager.tsdb.matchers import Matcher

Columns = npt.NDArray[np.float64]
"""Values of one series as a (columns, samples) array; raw blocks have one column."""


class Block:
    """One opened block directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.meta = BlockMeta.from_json((path / META_FILE).read_text())
        self.index = decode_index((path / INDEX_FILE).read_bytes())
        self._offsets, self._lens = self.index.chunk_spans()
        starts = self.index.chunk_start[:-1]
        self.series_mint: Int64Array = np.minimum.reduceat(self.index.chunk_mint, starts)
        self.series_maxt: Int64Array = np.maximum.reduceat(self.index.chunk_maxt, starts)
        self.tombstones: Tombstones = read_tombstones(path / TOMBSTONES_FILE)
        self._lock = threading.Lock()
        self._postings: PostingsIndex | None = None
        self._token = new_token()
        with open(path / CHUNKS_FILE, "rb") as f:
            size = f.seek(0, 2)
            self._data: mmap.mmap | bytes = (
                mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
            )

    @property
    def id(self) -> str:
        """The block's ULID."""
        return self.meta.id

    @property
    def labels(self) -> list[Labels]:
        """Label sets by series ordinal, sorted."""
        return self.index.labels

    @property
    def postings(self) -> PostingsIndex:
        """Postings of this block's series (ordinals), built on first use."""
        with self._lock:
            if self._postings is None:
                p = PostingsIndex()
                for i, lbl in enumerate(self.index.labels):
                    p.add(i, lbl)
                self._postings = p
            return self._postings

    def select(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> IdArray:
        """Ordinals of matching series with (not wholly deleted) data in [start_ms, end_ms]."""
        ids = self.postings.select(matchers) if matchers else np.arange(len(self.labels))
        ids = ids[(self.series_mint[ids] <= end_ms) & (self.series_maxt[ids] >= start_ms)]
        if not self.tombstones or len(ids) == 0:
            return ids.astype(np.int64)
        keep = [
            i
            for i in ids.tolist()
            if i not in self.tombstones
            or not covers(
                self.tombstones[i],
                max(start_ms, int(self.series_mint[i])),
                min(end_ms, int(self.series_maxt[i])),
            )
        ]
        return np.asarray(keep, dtype=np.int64)

    def read(self, ordinal: int, start_ms: int, end_ms: int) -> tuple[Int64Array, Columns]:
        """Timestamps and column values of one series in [start_ms, end_ms], tombstones applied.

        A column absent from a chunk (e.g. `increase` of a gauge) reads as NaN.
        """
        idx = self.index
        a, b = int(idx.chunk_start[ordinal]), int(idx.chunk_start[ordinal + 1])
        sel = np.arange(a, b)
        sel = sel[(idx.chunk_mint[a:b] <= end_ms) & (idx.chunk_maxt[a:b] >= start_ms)]
        ncol = idx.chunk_len.shape[1]
        ts_parts: list[Int64Array] = []
        col_parts: list[Columns] = []
        for c in sel.tolist():
            cached = chunk_cache.get((self._token, c))
            if cached is None:
                decoded = self._decode(c, ncol)
                if decoded is None:
                    continue
                cached = chunk_cache.put((self._token, c), *decoded)
            ts_parts.append(cached[0])
            col_parts.append(cached[1])
        if not ts_parts:
            return np.zeros(0, dtype=np.int64), np.zeros((ncol, 0))
        ts_all = np.concatenate(ts_parts) if len(ts_parts) > 1 else ts_parts[0]
        cols_all = np.concatenate(col_parts, axis=1) if len(col_parts) > 1 else col_parts[0]
        lo, hi = np.searchsorted(ts_all, [start_ms, end_ms + 1])
        ts_all, cols_all = ts_all[lo:hi], cols_all[:, lo:hi]
        intervals = self.tombstones.get(ordinal)
        if intervals:
            keep = keep_mask(ts_all, intervals)
            ts_all, cols_all = ts_all[keep], cols_all[:, keep]
        return ts_all, cols_all

    def _decode(self, c: int, ncol: int) -> tuple[Int64Array, Columns] | None:
        """Timestamps and columns of chunk `c` (None if it holds no column at all)."""
        idx = self.index
        lens = self._lens[c].tolist()
        offs = self._offsets[c].tolist()
        cols = np.full((ncol, int(idx.chunk_n[c])), np.nan)
        ts: Int64Array | None = None
        aliases = idx.chunk_alias[c].tolist()
        for k in range(ncol):
            if aliases[k]:
                cols[k] = cols[aliases[k] - 1]
            if lens[k] == 0:
                continue
            t, v = decode_chunk(bytes(self._data[offs[k] : offs[k] + lens[k]]))
            ts = t if ts is None else ts
            cols[k] = v
        return None if ts is None else (ts, cols)

    def add_tombstones(self, ordinals: Sequence[int], start_ms: int, end_ms: int) -> None:
        """Mark [start_ms, end_ms] of these series deleted, durably."""
        if not ordinals:
            return
        with self._lock:
            new = {k: list(v) for k, v in self.tombstones.items()}
            for i in ordinals:
                new[i] = merge_intervals([*new.get(i, []), (start_ms, end_ms)])
            write_tombstones(self.path / TOMBSTONES_FILE, new)
            self.tombstones = new

    def size_bytes(self) -> int:
        """Bytes on disk of every file of the block."""
        try:
            return dir_size(self.path)
        except FileNotFoundError:
            return 0

    def close(self) -> None:
        """Release the chunks mapping and this block's decoded chunks."""
        chunk_cache.drop_block(self._token)
        if isinstance(self._data, mmap.mmap):
            self._data.close()
