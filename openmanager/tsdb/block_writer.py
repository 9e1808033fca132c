"""Streaming block writer: series in label order in, one atomically renamed block dir out.

Each series is cut into chunks at multiples of `chunk_span_ms` (and at most
`max_chunk_samples` samples), every column of a chunk is encoded with the chunk codec and
appended to `chunks`; the index and `meta.json` are written at commit, then the `.tmp`
directory is fsynced and renamed into place.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

import numpy as np
import numpy.typing as npt

from openmanager.errors import InvalidInput
from openmanager.samples import Float64Array, Int64Array, Labels, SeriesMeta
from openmanager.tsdb.block_format import (
    CHUNKS_FILE,
    INDEX_FILE,
    META_FILE,
    RAW_COLUMNS,
    ROLLUP_COLUMNS,
    TIERS,
    TMP_SUFFIX,
    BlockMeta,
    fsync_dir,
    new_block_id,
    write_file_synced,
)
from openmanager.tsdb.block_index import encode_index
from openmanager.tsdb.codec import encode_chunk

DEFAULT_MAX_CHUNK_SAMPLES = 16_384
SHARED_CHUNK_MEMORY = 256 << 20
"""Bytes of encoded chunks remembered per block to store identical chunks once."""


def chunk_bounds(
    timestamps: Int64Array, span_ms: int, max_samples: int, *, right_closed: bool = False
) -> list[tuple[int, int]]:
    """[start, end) index pairs cutting sorted timestamps at multiples of span_ms.

    Raw chunks cover [k*span, (k+1)*span); rollups (window ends) cover (k*span, (k+1)*span].
    """
    n = len(timestamps)
    if n == 0:
        return []
    keys = (timestamps - 1 if right_closed else timestamps) // span_ms
    cuts = (np.flatnonzero(keys[1:] != keys[:-1]) + 1).tolist()
    out: list[tuple[int, int]] = []
    for a, b in zip([0, *cuts], [*cuts, n], strict=True):
        parts = -(-(b - a) // max_samples)
        edges = np.linspace(a, b, parts + 1).round().astype(np.int64).tolist()
        out.extend(zip(edges[:-1], edges[1:], strict=True))
    return out


class BlockWriter:
    """Write one block of a tier; use as a context manager so a failure removes the temp dir."""

    def __init__(
        self,
        tier_dir: Path,
        tier: str,
        *,
        chunk_span_ms: int,
        max_chunk_samples: int = DEFAULT_MAX_CHUNK_SAMPLES,
        level: int = 1,
        sources: Sequence[str] = (),
        extra: Mapping[str, object] | None = None,
        block_id: str | None = None,
    ) -> None:
        """`block_id` (default: a new one) lets a caller fix the ids of blocks it has written
        elsewhere, in the order it created them (ids order blocks by creation)."""
        if tier not in TIERS:
            raise InvalidInput(f"unknown tier {tier!r}")
        if chunk_span_ms <= 0 or max_chunk_samples <= 0:
            raise InvalidInput("chunk span and chunk size must be positive")
        self.id = block_id or new_block_id()
        self.tier = tier
        self.resolution_ms = TIERS[tier]
        self.columns = RAW_COLUMNS if self.resolution_ms == 0 else ROLLUP_COLUMNS
        self.tier_dir = tier_dir
        self.dir = tier_dir / (self.id + TMP_SUFFIX)
        self.dir.mkdir(parents=True)
        self._span = chunk_span_ms
        self._max = max_chunk_samples
        self._level = level
        self._sources = tuple(sources) or (self.id,)
        self._extra = dict(extra or {})
        self._file = open(self.dir / CHUNKS_FILE, "wb")  # noqa: SIM115 - closed in commit/abort
        self._labels: list[Labels] = []
        self._counts: list[int] = []
        self._mint: list[int] = []
        self._maxt: list[int] = []
        self._n: list[int] = []
        self._len: list[list[int]] = []
        self._alias: list[list[int]] = []
        self._same: list[list[int]] = []
        self._seen: dict[bytes, int] = {}
        self._seen_bytes = 0
        self._samples = 0

    def add(
        self, labels: Labels, timestamps: Int64Array, columns: Sequence[Float64Array | None]
    ) -> None:
        """Append one series (strictly after the previous in label order; times ascending)."""
        if len(columns) != len(self.columns):
            raise InvalidInput(f"expected {len(self.columns)} columns, got {len(columns)}")
        if self._labels and labels <= self._labels[-1]:
            raise InvalidInput("series must be added in strictly increasing label order")
        ts = np.ascontiguousarray(timestamps, dtype=np.int64)
        if len(ts) == 0:
            return
        if len(ts) > 1 and bool(np.any(ts[1:] <= ts[:-1])):
            raise InvalidInput("series timestamps must be strictly increasing")
        bounds = chunk_bounds(ts, self._span, self._max, right_closed=self.resolution_ms > 0)
        for a, b in bounds:
            lengths, aliases, same = self._write_chunk(
                ts[a:b], [None if c is None else c[a:b] for c in columns]
            )
            self._alias.append(aliases)
            self._same.append(same)
            self._mint.append(int(ts[a]))
            self._maxt.append(int(ts[b - 1]))
            self._n.append(b - a)
            self._len.append(lengths)
        self._labels.append(labels)
        self._counts.append(len(bounds))
        self._samples += len(ts)

    def _write_chunk(
        self, ts: Int64Array, columns: Sequence[Float64Array | None]
    ) -> tuple[list[int], list[int], list[int]]:
        """Encode one chunk's columns; a column equal bit for bit to an earlier one is an alias,
        and encoded bytes equal to an earlier chunk's (e.g. a histogram's +Inf bucket and its
        _count) are stored once and referenced."""
        lengths: list[int] = []
        aliases: list[int] = []
        shared: list[int] = []
        here = len(self._n) * len(self.columns)
        stored: list[tuple[int, npt.NDArray[np.uint64]]] = []
        for k, col in enumerate(columns):
            if col is None:
                lengths.append(0)
                aliases.append(0)
                shared.append(0)
                continue
            values = np.ascontiguousarray(col, dtype=np.float64)
            bits = values.view(np.uint64)
            same = next((j for j, other in stored if np.array_equal(bits, other)), None)
            if same is not None:
                lengths.append(0)
                aliases.append(same + 1)
                shared.append(0)
                continue
            data = encode_chunk(ts, values)
            aliases.append(0)
            stored.append((k, bits))
            earlier = self._seen.get(data)
            if earlier is not None:
                lengths.append(0)
                shared.append(earlier + 1)
                continue
            self._file.write(data)
            lengths.append(len(data))
            shared.append(0)
            if self._seen_bytes + len(data) <= SHARED_CHUNK_MEMORY:
                self._seen[data] = here + k
                self._seen_bytes += len(data)
        return lengths, aliases, shared

    def commit(self, metadata: Mapping[str, SeriesMeta]) -> BlockMeta:
        """Finish the block and rename it into place; a block without series is not written."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        if not self._labels:
            self.abort()
            return BlockMeta(self.id, 0, -1, self.resolution_ms, self.tier, 0, 0, self._level)
        mint = np.asarray(self._mint, dtype=np.int64)
        maxt = np.asarray(self._maxt, dtype=np.int64)
        base = int(mint.min())
        index = encode_index(
            self._labels,
            self._counts,
            mint,
            maxt,
            np.asarray(self._n, dtype=np.int64),
            np.asarray(self._len, dtype=np.int64).reshape(-1, len(self.columns)),
            metadata,
            base,
            np.asarray(self._alias, dtype=np.int64).reshape(-1, len(self.columns)),
            np.asarray(self._same, dtype=np.int64).reshape(-1, len(self.columns)),
        )
        write_file_synced(self.dir / INDEX_FILE, index)
        meta = BlockMeta(
            id=self.id,
            min_time=base,
            max_time=int(maxt.max()),
            resolution_ms=self.resolution_ms,
            tier=self.tier,
            num_series=len(self._labels),
            num_samples=self._samples,
            level=self._level,
            sources=self._sources,
            num_chunks=len(self._n),
            columns=self.columns,
            extra=self._extra,
        )
        write_file_synced(self.dir / META_FILE, meta.to_json().encode())
        fsync_dir(self.dir)
        final = self.tier_dir / self.id
        os.rename(self.dir, final)
        fsync_dir(self.tier_dir)
        return meta

    def abort(self) -> None:
        """Remove the partial block."""
        if not self._file.closed:
            self._file.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> BlockWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.abort()
