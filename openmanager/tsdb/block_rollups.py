"""The downsampling job: which raw periods are due, and turning one period into rollup blocks.

Raw time is cut into periods `(end - P, end]` (P a multiple of 1h, so every tier's windows
nest in a period). A period is due once raw data exists past its end (or `settle_ms` of wall
time has passed). `RollupState` (a small JSON file) remembers how far rollups are done and
which done periods received late raw blocks and must be recomputed; a recomputed period's
blocks are newer, so they win over the old ones when merged.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from openmanager.errors import InvalidInput
from openmanager.samples import is_stale
from openmanager.tsdb.block import Block
from openmanager.tsdb.block_format import TIERS, BlockMeta, write_file_atomic
from openmanager.tsdb.block_merge import iter_merged
from openmanager.tsdb.block_writer import BlockWriter
from openmanager.tsdb.compact import chunk_span_ms, merged_metadata, write_columns
from openmanager.tsdb.downsample import is_counter, rollup_coarser, rollup_raw

LOOKBACK_MS = 300_000
"""How far before a period the previous counter sample is looked for (PromQL's lookback)."""


def period_end(t: int, period_ms: int) -> int:
    """End of the period (end - P, end] holding time t."""
    return -((-t) // period_ms) * period_ms


@dataclass
class RollupState:
    """Progress of downsampling, persisted in `path` after every change."""

    path: Path
    rolled_until: int | None = None
    dirty: set[int] = field(default_factory=set)
    in_progress: set[int] = field(default_factory=set)

    @classmethod
    def load(cls, path: Path) -> RollupState:
        """Read the state file; a missing file means nothing was rolled up yet."""
        if not path.exists():
            return cls(path)
        try:
            d = json.loads(path.read_text())
            return cls(path, d["rolled_until"], {int(x) for x in d["dirty"]})
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(f"damaged rollup state {path}: {exc}") from exc

    def save(self) -> None:
        """Persist atomically; in-progress periods are saved as dirty (redone after a crash)."""
        body = {
            "rolled_until": self.rolled_until,
            "dirty": sorted(self.dirty | self.in_progress),
        }
        write_file_atomic(self.path, json.dumps(body).encode())

    def mark_written(self, min_time: int, max_time: int, period_ms: int) -> bool:
        """Raw data arrived for [min_time, max_time]: done periods in it become dirty."""
        changed = False
        e = period_end(min_time, period_ms)
        while e <= period_end(max_time, period_ms):
            done = self.rolled_until is not None and e <= self.rolled_until
            if (done or e in self.in_progress) and e not in self.dirty:
                self.dirty.add(e)
                changed = True
            e += period_ms
        return changed

    def is_rolled(self, meta: BlockMeta, period_ms: int) -> bool:
        """Whether every period touching a raw block has current rollups."""
        if self.rolled_until is None or meta.max_time > self.rolled_until:
            return False
        pending = self.dirty | self.in_progress
        return not any(d - period_ms < meta.max_time and d >= meta.min_time for d in pending)

    def due(
        self, raw: Sequence[BlockMeta], period_ms: int, now_ms: int, settle_ms: int
    ) -> list[int]:
        """Period ends to compute now: dirty ones first, then new complete ones in order."""
        if not raw:
            return sorted(self.dirty)
        high = max(m.max_time for m in raw)
        if self.rolled_until is None:
            e = period_end(min(m.min_time for m in raw), period_ms)
        else:
            e = period_end(self.rolled_until + 1, period_ms)
        out = sorted(self.dirty)
        starts = sorted(m.min_time for m in raw)
        while e - period_ms < high and (e < high or now_ms > e + settle_ms):
            if any(m.overlaps(e - period_ms + 1, e) for m in raw):
                out.append(e)
                e += period_ms
            else:  # jump over a gap without data to the next block's period
                later = [t for t in starts if t > e]
                if not later:
                    break
                e = period_end(later[0], period_ms)
        return out


def downsample_period(
    raw_blocks: Sequence[Block], end_ms: int, period_ms: int, blocks_dir: Path
) -> list[BlockMeta]:
    """Roll up raw samples in (end - P, end] into one new block per downsampled tier."""
    start = end_ms - period_ms + 1
    blocks = [b for b in raw_blocks if b.meta.overlaps(start - LOOKBACK_MS, end_ms)]
    if not any(b.meta.overlaps(start, end_ms) for b in blocks):
        return []
    metadata = merged_metadata(blocks)
    tiers = [t for t, res in TIERS.items() if res]
    writers = [
        BlockWriter(blocks_dir / t, t, chunk_span_ms=chunk_span_ms(t), extra={"period": end_ms})
        for t in tiers
    ]
    try:
        for labels, ts, cols in iter_merged(blocks, (), start - LOOKBACK_MS, end_ms):
            values = cols[0]
            split = int(np.searchsorted(ts, start))
            if split == len(ts):
                continue
            before = values[:split]
            before = before[~is_stale(before) & ~np.isnan(before)]
            prev = float(before[-1]) if len(before) else None
            ends, rolled = rollup_raw(
                ts[split:],
                values[split:],
                TIERS[tiers[0]],
                counter=is_counter(labels, metadata),
                prev_value=prev,
            )
            for tier, writer in zip(tiers, writers, strict=True):
                if len(ends) == 0:
                    break
                if TIERS[tier] != TIERS[tiers[0]]:
                    ends, rolled = rollup_coarser(ends, rolled, TIERS[tier])
                writer.add(labels, ends, write_columns(tier, rolled))
        return [m for m in (w.commit(metadata) for w in writers) if m.num_series]
    except BaseException:
        for w in writers:
            w.abort()
        raise
