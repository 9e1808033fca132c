"""The block store: every immutable block of every tier under `<root>/blocks/<tier>/<id>/`.

The engine hands it head data as raw blocks (`add_block`), queries read raw samples or
rollups from it, and `maintain` compacts, downsamples and applies retention. Block lists are
swapped under a lock, so queries run on a consistent snapshot while maintenance works.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from openmanager.errors import InvalidInput, Unavailable
from openmanager.samples import Float64Array, Int64Array, Labels, SeriesMeta
from openmanager.tsdb.block import Block
from openmanager.tsdb.block_format import (
    DELETING_SUFFIX,
    HOUR_MS,
    TIERS,
    TMP_SUFFIX,
    BlockMeta,
    new_block_id,
    tier_of_resolution,
)
from openmanager.tsdb.block_merge import iter_merged
from openmanager.tsdb.block_rollups import RollupState, downsample_period
from openmanager.tsdb.block_writer import BlockWriter
from openmanager.tsdb.compact import (
    chunk_span_ms,
    compact_blocks,
    merged_metadata,
    plan_compaction,
    ranges_for_retention,
)
from openmanager.tsdb.downsample import RollupSeries, best_resolution
from openmanager.tsdb.forkmap import fork_map
from openmanager.tsdb.matchers import Matcher
from openmanager.tsdb.retention import expired_blocks, validate_retention
from openmanager.tsdb.storage import Series, TierStats
from openmanager.tsdb.writerpool import WriterPool

MAX_PERIOD_MS = 6 * HOUR_MS
SETTLE_MS = 6 * HOUR_MS
"""Time after a period's end when it is rolled up even if no newer raw block came (longer
than the head holds data, so a period is rarely rolled up before its last block is cut)."""
_T_MIN, _T_MAX = -(2**62), 2**62
PARALLEL_IMPORT_SAMPLES = 2_000_000
"""Imports of at least this many samples write their blocks in forked worker processes."""


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class MaintenanceReport:
    """What one `maintain` run did."""

    compacted: tuple[BlockMeta, ...] = ()
    downsampled: tuple[BlockMeta, ...] = ()
    periods_rolled_up: int = 0
    rewritten: tuple[BlockMeta, ...] = ()
    deleted: tuple[BlockMeta, ...] = ()
    duration_s: float = 0.0


class BlockStore:
    """All on-disk blocks of an embedded TSDB, per tier (raw, 1m, 5m, 1h)."""

    def __init__(
        self,
        root: Path,
        retention_ms: Mapping[str, int],
        *,
        now_ms: Callable[[], int] = _wall_clock_ms,
        settle_ms: int = SETTLE_MS,
    ) -> None:
        self.root = Path(root)
        self.dir = self.root / "blocks"
        self.retention_ms = validate_retention(retention_ms)
        self._now = now_ms
        self._settle = settle_ms
        self._ranges = {t: ranges_for_retention(self.retention_ms[t]) for t in TIERS}
        self.period_ms = min(self._ranges["raw"][-1], MAX_PERIOD_MS)
        self._lock = threading.RLock()
        self._maintain_lock = threading.Lock()
        self._blocks: dict[str, list[Block]] = {}
        self._delete_gen = 0
        self._series_counts: dict[str, tuple[frozenset[str], int]] = {}
        for tier in TIERS:
            (self.dir / tier).mkdir(parents=True, exist_ok=True)
            self._blocks[tier] = self._open_tier(tier)
        self._state = RollupState.load(self.dir / "rollups.json")

    # -- opening -------------------------------------------------------------------------

    def _open_tier(self, tier: str) -> list[Block]:
        """Open a tier's blocks; drop leftovers of interrupted writes and of compactions."""
        tier_dir = self.dir / tier
        blocks: list[Block] = []
        for entry in sorted(tier_dir.iterdir()):
            if not entry.is_dir():
                continue
            if entry.name.endswith((TMP_SUFFIX, DELETING_SUFFIX)):
                shutil.rmtree(entry, ignore_errors=True)
                continue
            try:
                blocks.append(Block(entry))
            except (InvalidInput, OSError, ValueError) as exc:
                raise Unavailable(
                    f"block {entry} is damaged ({exc}); move it out of {tier_dir} to start without it"
                ) from exc
        replaced = {p for b in blocks for p in b.meta.extra.get("parents", [])}
        sources = [set(b.meta.sources) for b in blocks]
        keep: list[Block] = []
        for b in blocks:
            own = set(b.meta.sources)
            if b.id in replaced or any(own < other for other in sources):
                b.close()
                self._delete_dir(b.path)
            else:
                keep.append(b)
        return sorted(keep, key=lambda b: (b.meta.min_time, b.id))

    @staticmethod
    def _delete_dir(path: Path) -> None:
        """Remove a block dir: rename first so a crash never leaves a half-deleted block."""
        doomed = path.with_name(path.name + DELETING_SUFFIX)
        os.rename(path, doomed)
        shutil.rmtree(doomed, ignore_errors=True)

    def _snapshot(self, tier: str) -> list[Block]:
        with self._lock:
            return list(self._blocks[tier])

    def _all_blocks(self) -> list[Block]:
        with self._lock:
            return [b for tier in TIERS for b in self._blocks[tier]]

    def _install(
        self,
        tier: str,
        metas: Sequence[BlockMeta],
        remove: Sequence[Block] = (),
        *,
        delete_gen: int | None = None,
    ) -> bool:
        """Open new blocks and retire replaced ones in one step visible to readers.

        With `delete_gen`, the swap is refused (and the new blocks dropped) when a delete ran
        since the new blocks' inputs were read: they may still hold the deleted data.
        """
        opened = [Block(self.dir / tier / m.id) for m in metas if m.num_series]
        gone = {b.id for b in remove}
        with self._lock:
            stale = delete_gen is not None and delete_gen != self._delete_gen
            if not stale:
                blocks = [b for b in self._blocks[tier] if b.id not in gone] + opened
                self._blocks[tier] = sorted(blocks, key=lambda b: (b.meta.min_time, b.id))
        if stale:
            for b in opened:
                b.close()
                self._delete_dir(b.path)
            return False
        for b in remove:
            self._delete_dir(b.path)
        return True

    # -- writes --------------------------------------------------------------------------

    def add_block(
        self,
        series: Iterable[tuple[Labels, Int64Array, Float64Array]],
        metadata: Mapping[str, SeriesMeta],
        *,
        span_ms: int = 0,
        pool: WriterPool | None = None,
    ) -> BlockMeta:
        """Persist head data as one raw block (atomic); a batch without samples writes nothing.

        `span_ms` is the time the block may span (chunks grow with it, as after compaction);
        with `pool` the block is encoded and written in the pool's worker process.
        """
        args = (self.dir / "raw", list(series), dict(metadata), chunk_span_ms("raw", span_ms))
        block_id = new_block_id()  # taken here: ids order blocks by creation
        if pool is None:
            meta = write_raw_block(*args, block_id=block_id)
        else:
            meta = pool.run(write_raw_block, *args, block_id=block_id)
        if meta.num_series:
            with self._lock:
                if self._state.mark_written(meta.min_time, meta.max_time, self.period_ms):
                    self._state.save()
        self._install("raw", [meta])
        return meta

    def import_raw(
        self,
        series: Mapping[Labels, tuple[Int64Array, Float64Array]],
        metadata: Mapping[str, SeriesMeta],
        span_ms: int,
    ) -> ImportOutcome:
        """Write imported series as raw blocks of aligned `span_ms` windows, then publish them.

        Each series must be sorted by time without repeated timestamps. Every block is fsynced
        and renamed into place before it is installed; a new block that overlaps stored raw
        blocks is merged with them at once (newest wins on equal timestamps), so no sample is
        ever counted twice in `tier_stats`.
        """
        windows: dict[int, list[tuple[Labels, Int64Array, Float64Array]]] = {}
        lo, hi = _T_MAX, _T_MIN
        for lbl in sorted(series):
            ts, vs = series[lbl]
            if not len(ts):
                continue
            lo, hi = min(lo, int(ts[0])), max(hi, int(ts[-1]))
            keys = ts // span_ms
            cuts = np.flatnonzero(keys[1:] != keys[:-1]) + 1
            for a, b in zip([0, *cuts.tolist()], [*cuts.tolist(), len(ts)], strict=True):
                windows.setdefault(int(keys[a]), []).append((lbl, ts[a:b], vs[a:b]))
        order = sorted(windows)
        ids = [new_block_id() for _ in order]  # in window order, as one writer would take them

        def write(i: int) -> BlockMeta:
            with BlockWriter(
                self.dir / "raw",
                "raw",
                chunk_span_ms=chunk_span_ms("raw", span_ms),
                extra={"imported": True},
                block_id=ids[i],
            ) as w:
                for lbl, ts, vs in windows[order[i]]:
                    w.add(lbl, ts, [vs])
                return w.commit(metadata)

        total = sum(len(ts) for ts, _ in series.values())
        workers = 1 if total < PARALLEL_IMPORT_SAMPLES else None
        written = fork_map(write, range(len(order)), workers)
        if not written:
            return ImportOutcome()
        with self._maintain_lock:
            with self._lock:
                if self._state.mark_written(lo, hi, self.period_ms):
                    self._state.save()
            self._install("raw", written)
            merged, removed = self._merge_overlaps({m.id for m in written})
        return ImportOutcome(tuple(written), merged, removed)

    def _merge_overlaps(self, ids: set[str]) -> tuple[int, int]:
        """Merge every group of overlapping raw blocks that holds one of `ids`.

        Returns (merges done, samples that left the count: duplicates or deleted ones).
        """
        merges = removed = 0
        while True:
            blocks = self._snapshot("raw")
            group = _overlap_group(blocks, ids)
            if group is None:
                return merges, removed
            gen = self._delete_gen
            meta = compact_blocks(group, self.dir / "raw")
            if self._install("raw", [meta], group, delete_gen=gen):
                merges += 1
                removed += sum(b.meta.num_samples for b in group) - meta.num_samples
                ids = (ids - {b.id for b in group}) | {meta.id}

    def delete(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> int:
        """Tombstone matching data in [start_ms, end_ms] in every tier; returns series touched."""
        if start_ms > end_ms:
            raise InvalidInput(f"delete range starts after it ends ({start_ms} > {end_ms})")
        touched: set[Labels] = set()
        with self._lock:
            self._delete_gen += 1
            for block in self._all_blocks():
                if not block.meta.overlaps(start_ms, end_ms):
                    continue
                ids = block.select(matchers, start_ms, end_ms).tolist()
                block.add_tombstones(ids, start_ms, end_ms)
                touched.update(block.labels[i] for i in ids)
        return len(touched)

    # -- reads ---------------------------------------------------------------------------

    def select(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[Series]:
        """Raw samples in [start_ms, end_ms] merged across blocks, per series sorted, deduped."""
        return [
            Series(lbl, ts, cols[0])
            for lbl, ts, cols in iter_merged(self._snapshot("raw"), matchers, start_ms, end_ms)
        ]

    def select_rollup(
        self, matchers: Sequence[Matcher], start_ms: int, end_ms: int, resolution_ms: int
    ) -> list[RollupSeries]:
        """Rollup windows whose end lies in [start_ms, end_ms] from the tier of that resolution."""
        tier = tier_of_resolution(resolution_ms)
        if resolution_ms == 0:
            raise InvalidInput("resolution 0 is raw data: use select()")
        return [
            RollupSeries.from_columns(lbl, resolution_ms, ts, cols)
            for lbl, ts, cols in iter_merged(self._snapshot(tier), matchers, start_ms, end_ms)
        ]

    def coverage(self) -> dict[int, tuple[int, int] | None]:
        """Per rollup resolution, the (first, last) window end with complete rollups."""
        with self._lock:
            until = self._state.rolled_until
        out: dict[int, tuple[int, int] | None] = {}
        for tier, res in TIERS.items():
            if res == 0:
                continue
            blocks = self._snapshot(tier)
            out[res] = None
            if blocks and until is not None:
                out[res] = (min(b.meta.min_time for b in blocks), until)
        return out

    def best_resolution(self, start_ms: int, end_ms: int, step_ms: int) -> int:
        """Coarsest tier resolution <= step covering [start, end]; 0 means read raw samples."""
        return best_resolution(start_ms, end_ms, step_ms, self.coverage())

    def _matching_labels(
        self, matchers: Sequence[Matcher], start_ms: int | None, end_ms: int | None
    ) -> set[Labels]:
        lo = _T_MIN if start_ms is None else start_ms
        hi = _T_MAX if end_ms is None else end_ms
        out: set[Labels] = set()
        for block in self._all_blocks():
            if block.meta.overlaps(lo, hi):
                labels = block.labels
                out.update(labels[i] for i in block.select(matchers, lo, hi).tolist())
        return out

    def series(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[Labels]:
        """Label sets of matching series with data in the range, in any tier."""
        return sorted(self._matching_labels(matchers, start_ms, end_ms))

    def label_names(
        self,
        matchers: Sequence[Matcher] = (),
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> list[str]:
        """Sorted label names of matching series."""
        if not matchers and start_ms is None and end_ms is None:
            return sorted({n for b in self._all_blocks() for n in b.postings.label_names()})
        found = self._matching_labels(matchers, start_ms, end_ms)
        return sorted({n for lbl in found for n, _ in lbl})

    def label_values(
        self,
        name: str,
        matchers: Sequence[Matcher] = (),
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> list[str]:
        """Sorted values of one label among matching series."""
        if not matchers and start_ms is None and end_ms is None:
            return sorted({v for b in self._all_blocks() for v in b.postings.label_values(name)})
        found = self._matching_labels(matchers, start_ms, end_ms)
        return sorted({v for lbl in found for n, v in lbl if n == name})

    def metadata(self, metric: str | None = None) -> dict[str, SeriesMeta]:
        """Type, help and unit per metric family (the newest block's entry wins)."""
        meta = merged_metadata(self._all_blocks())
        if metric is not None:
            return {metric: meta[metric]} if metric in meta else {}
        return meta

    def blocks(self, tier: str = "raw") -> list[BlockMeta]:
        """Metadata of a tier's blocks, by time."""
        return [b.meta for b in self._snapshot(tier)]

    def max_time(self) -> int | None:
        """Newest raw sample time stored in blocks, or None."""
        blocks = self._snapshot("raw")
        return max(b.meta.max_time for b in blocks) if blocks else None

    def tier_stats(self) -> list[TierStats]:
        """Series, samples (rollup windows for downsampled tiers), bytes and span per tier."""
        out = []
        for tier in TIERS:
            blocks = self._snapshot(tier)
            out.append(
                TierStats(
                    name=tier,
                    series=self._series_count(tier, blocks),
                    samples=sum(b.meta.num_samples for b in blocks),
                    bytes_on_disk=sum(b.size_bytes() for b in blocks),
                    min_time=min((b.meta.min_time for b in blocks), default=None),
                    max_time=max((b.meta.max_time for b in blocks), default=None),
                )
            )
        return out

    def _series_count(self, tier: str, blocks: Sequence[Block]) -> int:
        """Distinct series over a tier's blocks, cached until the block set changes."""
        key = frozenset(b.id for b in blocks)
        cached = self._series_counts.get(tier)
        if cached is not None and cached[0] == key:
            return cached[1]
        series: set[Labels] = set()
        for b in blocks:
            series.update(b.labels)
        self._series_counts[tier] = (key, len(series))
        return len(series)

    # -- maintenance ---------------------------------------------------------------------

    def maintain(self, now_ms: int | None = None) -> MaintenanceReport:
        """Roll up due periods, compact every tier, clean tombstones, expire old blocks."""
        now = self._now() if now_ms is None else now_ms
        started = time.monotonic()
        with self._maintain_lock:
            downsampled, periods = self._downsample(now)  # first: reads short raw chunks
            compacted = self._compact("raw", now)
            for tier in TIERS:
                if TIERS[tier]:
                    compacted += self._compact(tier, now)
            rewritten = self._clean_tombstones()
            deleted = self._expire(now)
        return MaintenanceReport(
            compacted=tuple(compacted),
            downsampled=tuple(downsampled),
            periods_rolled_up=periods,
            rewritten=tuple(rewritten),
            deleted=tuple(deleted),
            duration_s=time.monotonic() - started,
        )

    def _compact(self, tier: str, now: int) -> list[BlockMeta]:
        done: list[BlockMeta] = []
        while True:
            blocks = self._snapshot(tier)
            plan = plan_compaction([b.meta for b in blocks], self._ranges[tier], now_ms=now)
            if plan is None:
                return done
            chosen = {m.id for m in plan}
            inputs = [b for b in blocks if b.id in chosen]
            gen = self._delete_gen
            meta = compact_blocks(inputs, self.dir / tier)
            if self._install(tier, [meta], inputs, delete_gen=gen):
                done.append(meta)

    def _downsample(self, now: int) -> tuple[list[BlockMeta], int]:
        written: list[BlockMeta] = []
        raw = self.blocks("raw")
        with self._lock:
            due = self._state.due(raw, self.period_ms, now, self._settle)
        for end in due:
            with self._lock:
                self._state.dirty.discard(end)
                self._state.in_progress.add(end)
                gen = self._delete_gen
            metas = downsample_period(self._snapshot("raw"), end, self.period_ms, self.dir)
            installed = [m for m in metas if self._install(m.tier, [m], delete_gen=gen)]
            written.extend(installed)
            with self._lock:
                self._state.in_progress.discard(end)
                if len(installed) < len(metas):
                    self._state.dirty.add(end)  # a delete raced the job: redo next time
                until = self._state.rolled_until
                if until is None or end > until:
                    self._state.rolled_until = end
                self._state.save()
        return written, len(due)

    def _clean_tombstones(self) -> list[BlockMeta]:
        """Rewrite blocks carrying tombstones so deleted data leaves the disk."""
        out = []
        for tier in TIERS:
            for block in self._snapshot(tier):
                if block.tombstones:
                    gen = self._delete_gen
                    meta = compact_blocks([block], self.dir / tier, same_level=True)
                    if self._install(tier, [meta], [block], delete_gen=gen):
                        out.append(meta)
        return out

    def _unrolled(self, meta: BlockMeta) -> bool:
        """A raw block some of whose periods still lack current rollups."""
        with self._lock:
            return not self._state.is_rolled(meta, self.period_ms)

    def retention_reference(self, now_ms: int) -> int:
        """The instant retention counts back from: `now`, or the newest stored sample if older.

        Like Prometheus (which counts from its newest block), backfilled history is kept until
        newer data arrives instead of expiring the moment it is written.
        """
        newest = [b.meta.max_time for tier in TIERS for b in self._snapshot(tier)]
        return min(now_ms, max(newest)) if newest else now_ms

    def _expire(self, now: int) -> list[BlockMeta]:
        ref = self.retention_reference(now)
        out: list[BlockMeta] = []
        for tier in TIERS:
            blocks = self._snapshot(tier)
            keep = self._unrolled if tier == "raw" else None
            expired = expired_blocks(
                [b.meta for b in blocks], self.retention_ms[tier], ref, keep=keep
            )
            ids = {m.id for m in expired}
            self._install(tier, [], [b for b in blocks if b.id in ids])
            out.extend(expired)
        return out

    def close(self) -> None:
        """Release every block's mapping."""
        with self._lock:
            for tier in TIERS:
                for b in self._blocks[tier]:
                    b.close()
                self._blocks[tier] = []


def write_raw_block(
    tier_dir: Path,
    series: Iterable[tuple[Labels, Int64Array, Float64Array]],
    metadata: Mapping[str, SeriesMeta],
    chunk_span: int,
    *,
    block_id: str | None = None,
) -> BlockMeta:
    """Write series (merged by labels, sorted, last of equal timestamps wins) as one raw block.

    Module-level so a `WriterPool` worker can run it; the block is durable on return.
    """
    merged: dict[Labels, tuple[Int64Array, Float64Array]] = {}
    for labels, ts, vs in series:
        t = np.asarray(ts, dtype=np.int64)
        v = np.asarray(vs, dtype=np.float64)
        if len(t) != len(v):
            raise InvalidInput(f"series {labels}: timestamps and values differ in length")
        if labels in merged:
            t = np.concatenate([merged[labels][0], t])
            v = np.concatenate([merged[labels][1], v])
        merged[labels] = (t, v)
    cleaned = {lbl: _sorted_unique(t, v) for lbl, (t, v) in merged.items() if len(t)}
    with BlockWriter(tier_dir, "raw", chunk_span_ms=chunk_span, block_id=block_id) as w:
        for lbl in sorted(cleaned):
            w.add(lbl, cleaned[lbl][0], [cleaned[lbl][1]])
        return w.commit(metadata)


@dataclass(frozen=True)
class ImportOutcome:
    """Blocks an import wrote, merges with overlapping blocks, and samples merged away."""

    blocks: tuple[BlockMeta, ...] = ()
    merges: int = 0
    merged_away: int = 0
    """Samples already stored (same series and timestamp) or deleted, found while merging."""


def _overlap_group(blocks: Sequence[Block], ids: set[str]) -> list[Block] | None:
    """The first group of transitively overlapping blocks (2 or more) holding one of `ids`."""
    group: list[Block] = []
    group_max = _T_MIN
    for b in sorted(blocks, key=lambda b: (b.meta.min_time, b.id)):
        if group and b.meta.min_time <= group_max:
            group.append(b)
            group_max = max(group_max, b.meta.max_time)
            continue
        if len(group) > 1 and any(g.id in ids for g in group):
            return group
        group, group_max = [b], b.meta.max_time
    if len(group) > 1 and any(g.id in ids for g in group):
        return group
    return None


def _sorted_unique(ts: Int64Array, vs: Float64Array) -> tuple[Int64Array, Float64Array]:
    """Samples sorted by time; of equal timestamps the last given wins."""
    if len(ts) > 1 and bool(np.any(ts[1:] <= ts[:-1])):
        order = np.argsort(ts, kind="stable")
        ts, vs = ts[order], vs[order]
        keep = np.ones(len(ts), dtype=bool)
        keep[:-1] = ts[1:] != ts[:-1]
        ts, vs = ts[keep], vs[keep]
    return ts, vs
