"""On-disk block layout: tiers, block ids, `meta.json` and crash-safe file helpers.

A block is a directory `<root>/blocks/<tier>/<id>/` holding `meta.json`, `index` and `chunks`
(and, once something was deleted, `tombstones`). Blocks are written under `<id>.tmp` and
renamed into place, so a reader only ever sees complete blocks.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from openmanager.errors import InvalidInput

FORMAT_VERSION = 1
META_FILE = "meta.json"
INDEX_FILE = "index"
CHUNKS_FILE = "chunks"
TOMBSTONES_FILE = "tombstones"
TMP_SUFFIX = ".tmp"
DELETING_SUFFIX = ".deleting"

TIERS: dict[str, int] = {"raw": 0, "1m": 60_000, "5m": 300_000, "1h": 3_600_000}
"""Tier name -> resolution in ms (0 = raw samples)."""

RAW_COLUMNS: tuple[str, ...] = ("value",)
ROLLUP_COLUMNS: tuple[str, ...] = ("min", "max", "sum", "count", "last", "increase")
"""Per window: min, max, sum and count of the samples, the last value, and for counters the
reset-aware increase since the previous sample (absent, i.e. NaN, for other series)."""

HOUR_MS = 3_600_000


def tier_of_resolution(resolution_ms: int) -> str:
    """The tier name storing a resolution; InvalidInput names the allowed ones otherwise."""
    for name, res in TIERS.items():
        if res == resolution_ms:
            return name
    allowed = ", ".join(f"{n}={r}" for n, r in TIERS.items())
    raise InvalidInput(f"no tier has resolution {resolution_ms} ms (tiers: {allowed})")


@dataclass(frozen=True)
class BlockMeta:
    """What a block holds; `max_time` is inclusive (the last sample or window end it stores)."""

    id: str
    min_time: int
    max_time: int
    resolution_ms: int
    tier: str
    num_series: int
    num_samples: int
    level: int = 1
    sources: tuple[str, ...] = ()
    num_chunks: int = 0
    columns: tuple[str, ...] = RAW_COLUMNS
    version: int = FORMAT_VERSION
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def overlaps(self, start_ms: int, end_ms: int) -> bool:
        """Whether the block's time range meets the inclusive range [start_ms, end_ms]."""
        return self.min_time <= end_ms and self.max_time >= start_ms

    def to_json(self) -> str:
        """Serialise as the contents of `meta.json`."""
        d = asdict(self)
        d["sources"] = list(self.sources)
        d["columns"] = list(self.columns)
        return json.dumps(d, separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> BlockMeta:
        """Parse `meta.json`; InvalidInput on an unknown version or missing field."""
        try:
            d = json.loads(text)
            if d.get("version") != FORMAT_VERSION:
                raise InvalidInput(f"unsupported block format version {d.get('version')!r}")
            d["sources"] = tuple(d["sources"])
            d["columns"] = tuple(d["columns"])
            return cls(**d)
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(f"malformed block meta: {exc}") from exc


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_id_lock = threading.Lock()
_last_id = 0


def new_block_id() -> str:
    """A ULID (48-bit wall-clock ms + 80 random bits), strictly increasing within a process.

    Block ids order blocks by creation; merges let the newest block win on equal timestamps.
    """
    global _last_id
    with _id_lock:
        value = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
        if value <= _last_id:
            value = _last_id + 1
        _last_id = value
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def fsync_dir(path: Path) -> None:
    """fsync a directory so a rename or create inside it is durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file_synced(path: Path, data: bytes) -> None:
    """Write and fsync one file (the caller fsyncs the directory)."""
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def write_file_atomic(path: Path, data: bytes) -> None:
    """Replace a file atomically: write a temp file, fsync it, rename, fsync the directory."""
    tmp = path.with_name(path.name + TMP_SUFFIX)
    write_file_synced(tmp, data)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def dir_size(path: Path) -> int:
    """Total bytes of the regular files directly inside a directory."""
    total = 0
    with os.scandir(path) as it:
        for entry in it:
            if entry.is_file(follow_symlinks=False):
                total += entry.stat(follow_symlinks=False).st_size
    return total
