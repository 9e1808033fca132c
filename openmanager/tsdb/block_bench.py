"""Measure block bytes per sample (index and chunks apart) on the peers' fleet workload.

    python -m openmanager.tsdb.block_bench /tmp/peers/data/fleet.prom --out /tmp/om-blocks

Loads a Prometheus text file of `name{labels} value ts_ms` lines grouped by series (as
`gen_workload.py` writes it), cuts it into 2h raw blocks like the head would, runs the
maintenance (compaction, rollups) and prints bytes per sample per tier and file kind.
"""

from __future__ import annotations

import argparse
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from openmanager.samples import Float64Array, Int64Array, Labels, make_labels
from openmanager.tsdb.block_format import CHUNKS_FILE, INDEX_FILE, TIERS
from openmanager.tsdb.blockstore import BlockStore

_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
HOUR_MS = 3_600_000


def parse_series(prefix: str) -> Labels:
    """`name{a="1",b="2"}` to Labels (no escapes beyond what the workload uses)."""
    name, _, rest = prefix.partition("{")
    return make_labels(name, dict(_PAIR.findall(rest)))


def load_prom(
    path: Path, chunk_bytes: int = 256 << 20
) -> dict[Labels, tuple[Int64Array, Float64Array]]:
    """Series of a `name{labels} value ts` file, columns parsed by NumPy one chunk at a time."""
    parts: dict[Labels, list[tuple[Int64Array, Float64Array]]] = {}
    for prefixes, values, stamps in _chunks(path, chunk_bytes):
        cuts = np.flatnonzero(prefixes[1:] != prefixes[:-1]) + 1
        for a, b in zip([0, *cuts.tolist()], [*cuts.tolist(), len(prefixes)], strict=True):
            labels = parse_series(prefixes[a].decode())
            parts.setdefault(labels, []).append((stamps[a:b], values[a:b]))
    return {
        lbl: (np.concatenate([p[0] for p in ps]), np.concatenate([p[1] for p in ps]))
        for lbl, ps in parts.items()
    }


def _chunks(path: Path, chunk_bytes: int) -> Iterator[tuple[np.ndarray, Float64Array, Int64Array]]:
    rest = b""
    with open(path, "rb") as f:
        while True:
            data = f.read(chunk_bytes)
            buf = rest + data
            if not data:
                cut = len(buf)
            else:
                cut = buf.rfind(b"\n") + 1
            body, rest = buf[:cut], buf[cut:]
            lines = [ln for ln in body.split(b"\n") if ln and not ln.startswith(b"#")]
            if lines:
                tokens = b" ".join(lines).split(b" ")
                yield (
                    np.array(tokens[0::3]),
                    np.array(tokens[1::3]).astype(np.float64),
                    np.array(tokens[2::3]).astype(np.int64),
                )
            if not data:
                return


def kind_sizes(root: Path, tier: str) -> dict[str, int]:
    """Bytes of the index, chunks and other files over a tier's blocks."""
    out = {"index": 0, "chunks": 0, "other": 0}
    for block in (root / "blocks" / tier).iterdir():
        for f in block.iterdir():
            kind = {INDEX_FILE: "index", CHUNKS_FILE: "chunks"}.get(f.name, "other")
            out[kind] += f.stat().st_size
    return out


def main() -> None:
    """Load, write 2h blocks, maintain, print the figures."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("file", type=Path)
    ap.add_argument("--out", type=Path, default=Path("/tmp/om-block-bench"))
    ap.add_argument("--no-rollups", action="store_true", help="stop after raw compaction")
    ap.add_argument(
        "--raw-retention-days",
        type=float,
        default=15.0,
        help="sets the largest raw block (retention / 10); 15 = Prometheus's default -> 18h blocks",
    )
    args = ap.parse_args()
    t0 = time.monotonic()
    series = load_prom(args.file)
    n = sum(len(t) for t, _ in series.values())
    t1 = time.monotonic()
    print(f"loaded {len(series)} series, {n:,} samples in {t1 - t0:.1f}s")
    shutil.rmtree(args.out, ignore_errors=True)
    lo = min(int(t[0]) for t, _ in series.values())
    hi = max(int(t[-1]) for t, _ in series.values())
    retention = {"raw": int(args.raw_retention_days * 86_400_000)}
    settle = 10**15 if args.no_rollups else 0
    store = BlockStore(args.out, retention, now_ms=lambda: hi, settle_ms=settle)
    start = lo // (2 * HOUR_MS) * 2 * HOUR_MS
    for w in range(start, hi + 1, 2 * HOUR_MS):
        batch = []
        for lbl, (ts, vs) in series.items():
            a, b = np.searchsorted(ts, [w, w + 2 * HOUR_MS])
            batch.append((lbl, ts[a:b], vs[a:b]))
        store.add_block(batch, {})
    t2 = time.monotonic()
    print(f"wrote 2h blocks in {t2 - t1:.1f}s ({n / (t2 - t1) / 1e6:.2f} M samples/s)")
    raw2h = kind_sizes(args.out, "raw")
    print(f"2h blocks: index {raw2h['index'] / n:.4f} B/sample, chunks {raw2h['chunks'] / n:.4f}")
    if args.no_rollups:
        store._state.rolled_until = 2**62  # compaction only, no downsampling
    report = store.maintain(now_ms=hi + 1)
    t3 = time.monotonic()
    print(
        f"maintain: {len(report.compacted)} compactions, {report.periods_rolled_up} periods "
        f"rolled up in {t3 - t2:.1f}s"
    )
    for stat in store.tier_stats():
        if not stat.samples:
            continue
        k = kind_sizes(args.out, stat.name)
        print(
            f"{stat.name:>4}: {len(store.blocks(stat.name))} blocks, {stat.samples:,} points, "
            f"{stat.bytes_on_disk:,} B = {stat.bytes_on_disk / n:.4f} B per raw sample "
            f"(index {k['index'] / n:.4f}, chunks {k['chunks'] / n:.4f}, other {k['other'] / n:.4f}); "
            f"{stat.bytes_on_disk / stat.samples:.3f} B per stored point"
        )
    total = sum(s.bytes_on_disk for s in store.tier_stats())
    print(f"all tiers: {total / n:.4f} B per raw sample; tiers: {', '.join(TIERS)}")
    store.close()


if __name__ == "__main__":
    main()
