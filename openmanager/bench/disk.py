"""Bytes on disk of an embedded store's directory, by file kind (tier and block file, WAL)."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path


def file_kind(rel: Path) -> str:
    """`raw/chunks`, `1m/index`, `wal`, `rollup state`, ... for a path inside the data dir."""
    parts = rel.parts
    if parts[0] == "wal":
        return "wal"
    if parts[0] == "blocks" and len(parts) == 2:
        return "rollup state"
    if parts[0] == "blocks" and len(parts) >= 4:
        return f"{parts[1]}/{parts[-1]}"
    return "other"


def usage_by_kind(root: Path) -> dict[str, int]:
    """Bytes of every regular file under root, summed by `file_kind` (sorted by kind)."""
    sizes: Counter[str] = Counter()
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            if not path.is_symlink():
                sizes[file_kind(path.relative_to(root))] += path.stat().st_size
    return dict(sorted(sizes.items()))


def tier_bytes(usage: dict[str, int], tier: str) -> int:
    """Bytes of one tier's blocks (chunks, index, meta, tombstones)."""
    return sum(n for kind, n in usage.items() if kind.startswith(f"{tier}/"))
