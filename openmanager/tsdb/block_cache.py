"""A process-wide, byte-bounded LRU of decoded block chunks.

Decoding a chunk (bit unpacking, integration, entropy decoding) is most of a range query's
time, and dashboards ask for the same recent chunks again and again. Blocks are immutable, so
a decoded chunk stays valid for as long as its block is open: this is a storage-level cache
(like the page cache Prometheus relies on for its mmapped chunks), not a query-result cache.
Tombstones are applied after the cache, so deletes need no invalidation.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict

import numpy as np
import numpy.typing as npt

from openmanager.samples import Int64Array

DEFAULT_MAX_BYTES = 256 << 20
"""Enough for the decoded chunks of a few hundred series over a week of 10 s samples."""

ChunkKey = tuple[int, int]
"""(block token, chunk number within the block)."""
Decoded = tuple[Int64Array, npt.NDArray[np.float64]]

_tokens = itertools.count(1)


def new_token() -> int:
    """A key prefix unique to one opened block (never reused, even for the same path)."""
    return next(_tokens)


class ChunkCache:
    """LRU of decoded (timestamps, columns) by chunk; arrays are read-only once cached."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self._items: OrderedDict[ChunkKey, Decoded] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: ChunkKey) -> Decoded | None:
        """The cached chunk, marked most recently used; None (a miss) if absent."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return item

    def put(self, key: ChunkKey, ts: Int64Array, cols: npt.NDArray[np.float64]) -> Decoded:
        """Cache a decoded chunk (made read-only) and evict the least recently used over budget."""
        ts.flags.writeable = False
        cols.flags.writeable = False
        size = ts.nbytes + cols.nbytes
        if size > self.max_bytes:
            return ts, cols
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.bytes -= old[0].nbytes + old[1].nbytes
            self._items[key] = (ts, cols)
            self.bytes += size
            while self.bytes > self.max_bytes:
                _, (ots, ocols) = self._items.popitem(last=False)
                self.bytes -= ots.nbytes + ocols.nbytes
        return ts, cols

    def drop_block(self, token: int) -> None:
        """Forget every chunk of one block (it is being closed)."""
        with self._lock:
            for key in [k for k in self._items if k[0] == token]:
                ts, cols = self._items.pop(key)
                self.bytes -= ts.nbytes + cols.nbytes

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._items.clear()
            self.bytes = 0

    def __len__(self) -> int:
        return len(self._items)


chunk_cache = ChunkCache()
"""The cache every `Block` reads through."""
