"""`EmbeddedStorage`: the `Storage` interface over a WAL-backed head and immutable blocks.

Write path: validate (head.prepare) -> WAL append (+fsync) -> head.commit -> acknowledge.
When the head spans more than 1.5 block durations, a background `Cutter` thread writes whole
aligned block ranges to the block store (encoding outside the head lock), then, under the lock,
logs a cut record, drops the range from the head and checkpoints the WAL down to the live head.
Blocks are published before the head drops anything, and reads take the head first, so a read
never misses data. Cuts of at least `cut_worker_min_samples` are encoded in a `WriterPool` worker
process (the cutter thread waits with the GIL released, then installs the block). When a cut
spans several block ranges (the cutter fell behind, e.g. a backfill by remote write), it writes
larger aligned blocks (compaction ranges up to a day), whose longer chunks are cheaper to encode.
If the head outgrows 3 block durations and `head_max_backlog_samples`, append cuts inline (waiting
for the cut in progress first): back-pressure that keeps the head bounded.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from openmanager.config.settings import StorageSettings
from openmanager.errors import ConfigError, OpenManagerError
from openmanager.observability.metrics import SAMPLES_INGESTED
from openmanager.samples import Float64Array, Int64Array, Labels, SampleBatch, SeriesMeta
from openmanager.tsdb.block_api import TIERS, BlockBackend
from openmanager.tsdb.bulk import DEFAULT_MAX_BUFFERED, BulkImport, ImportSummary, import_span_ms
from openmanager.tsdb.compact import MAX_RAW_CHUNK_SPAN_MS, ranges_for_retention
from openmanager.tsdb.cutter import Cutter
from openmanager.tsdb.dirlock import DirLock
from openmanager.tsdb.downsample import RollupSeries
from openmanager.tsdb.head import Head
from openmanager.tsdb.head_run import Run, concat_sorted
from openmanager.tsdb.matchers import Matcher, MatchType
from openmanager.tsdb.series_merge import merge_series
from openmanager.tsdb.storage import AppendResult, Series, StorageStats
from openmanager.tsdb.wal import WriteAheadLog
from openmanager.tsdb.wal_records import WalBatch, WalCut, WalTombstone
from openmanager.tsdb.writerpool import WriterPool
from openmanager.units import parse_duration

log = logging.getLogger(__name__)

ANY_SERIES = (Matcher("__name__", MatchType.RE, ".+"),)
T_MIN, T_MAX = -(2**62), 2**62
"""'All time' bounds, far from int64 overflow in any arithmetic on them."""
_NO_REFS = np.zeros(0, dtype=np.int64)


def wall_clock_ms() -> int:
    """Current time in milliseconds since the epoch."""
    return time.time_ns() // 1_000_000


def retention_ms(settings: StorageSettings) -> dict[str, int]:
    """Retention per tier name, in milliseconds."""
    r = settings.retention
    return dict(zip(TIERS, map(parse_duration, (r.raw, r.m1, r.m5, r.h1)), strict=True))


class EmbeddedStorage:
    """The embedded TSDB; thread-safe: one lock guards head and WAL, the block store guards itself.

    Lock order: `_cut_mutex` (one cut, flush or delete at a time) before `_head_lock`.
    """

    def __init__(
        self,
        path: Path | str | None = None,
        settings: StorageSettings | None = None,
        *,
        now_ms: Callable[[], int] = wall_clock_ms,
        blocks: BlockBackend | None = None,
    ) -> None:
        self.settings = settings or StorageSettings()
        self.root = Path(path if path is not None else self.settings.path)
        self.root.mkdir(parents=True, exist_ok=True)
        self._dirlock = DirLock(self.root)
        self._now = now_ms
        self._head_lock = threading.RLock()
        self._cut_mutex = threading.Lock()
        self._generation_lock = threading.Lock()
        self.generation = 0
        """Bumped after every change that can alter a query's answer (appends, imports,
        deletes, cuts, maintenance), so caches of query results know when to forget them."""
        try:
            self.block_ms = parse_duration(self.settings.block_duration)
            if self.block_ms < 1000:
                raise ConfigError(
                    f"storage.block_duration={self.settings.block_duration!r} is too short: "
                    "use at least 1s (default 2h)"
                )
            self.head = Head(
                ooo_window_ms=parse_duration(self.settings.out_of_order_window),
                future_tolerance_ms=parse_duration(self.settings.future_tolerance),
            )
            if blocks is None:
                from openmanager.tsdb.blockstore import BlockStore

                blocks = BlockStore(self.root, retention_ms(self.settings), now_ms=now_ms)
            self.blocks: BlockBackend = blocks
            self._spans = cut_spans(self.block_ms, retention_ms(self.settings)["raw"])
            self._pool = WriterPool()
            self.wal = WriteAheadLog(self.root / "wal", fsync=self.settings.wal_fsync)
            self._replay()
        except BaseException:
            self._dirlock.release()
            raise
        self._closed = False
        self._cutter = Cutter(self._cut_while_due)
        self._cutter.request()  # the replayed head may be due already

    def _replay(self) -> None:
        started, records, skipped = time.monotonic(), 0, 0
        for rec in self.wal.replay():
            records += 1
            if isinstance(rec, WalBatch):
                skipped += self.head.apply(rec, check_refs=True)
            elif isinstance(rec, WalTombstone):
                self.head.delete(rec.refs, rec.start_ms, rec.end_ms)
            else:
                self.head.drop_before(rec.before_ms)
        if skipped:
            log.warning(
                "WAL replay skipped %d samples of series whose definition was lost", skipped
            )
        log.info(
            "replayed %d WAL records in %.2fs: %d series, %d samples in the head",
            records,
            time.monotonic() - started,
            self.head.num_series,
            self.head.num_samples,
        )

    # -- write -------------------------------------------------------------------------------

    def append(self, batch: SampleBatch) -> AppendResult:
        """Validate, log, apply; returns once the accepted part survives a crash.

        The WAL sync happens after the head lock is released, so concurrent appends share
        one fdatasync (group commit); samples may be visible to queries just before that.
        """
        seq = 0
        with self._head_lock:
            plan = self.head.prepare(batch, self._now())
            if not plan.empty:
                seq = self.wal.append(plan.wal_record(), sync=False)
                self.head.commit(plan)
                self.changed()
            span = self.head.time_range()
        if seq:
            self.wal.sync(seq)
        SAMPLES_INGESTED.inc(plan.result.accepted)
        width = 0 if span is None else span[1] - span[0]
        if width > self.block_ms * 3 and self._backlogged():  # back-pressure: cut here
            self._cut_while_due()
        elif width > self.block_ms * 3 // 2:
            self._cutter.request()
        return plan.result

    def _backlogged(self) -> bool:
        """Whether the head holds more samples than the cutter may fall behind by."""
        with self._head_lock:
            return self.head.num_samples > self.settings.head_max_backlog_samples

    def changed(self) -> None:
        """Note that stored data changed (after the change is visible to readers)."""
        with self._generation_lock:
            self.generation += 1

    def now_ms(self) -> int:
        """The store's clock (wall time unless a test injects one)."""
        return self._now()

    def head_start_ms(self) -> int | None:
        """Oldest timestamp held in the head, or None when it is empty."""
        with self._head_lock:
            span = self.head.time_range()
        return None if span is None else span[0]

    def bulk_import(
        self,
        *,
        max_buffered: int = DEFAULT_MAX_BUFFERED,
        observe: Callable[[SampleBatch], None] | None = None,
    ) -> BulkImport:
        """A bulk import session: history before the head goes straight to large blocks.

        Use as a context manager (commits on success); see `openmanager.tsdb.bulk`.
        """
        span = import_span_ms(retention_ms(self.settings)["raw"])
        return BulkImport(self, span_ms=span, max_buffered=max_buffered, observe=observe)

    def import_batch(self, batch: SampleBatch) -> ImportSummary:
        """Import one batch through a bulk session: durable, deduplicated, on return."""
        with self.bulk_import() as session:
            session.add(batch)
        return session.summary

    def _due_before(self) -> int | None:
        """Where to cut when the head spans more than 1.5 blocks, else None (hold the head lock).

        A head far behind the clock (history arriving by remote write) is cut only in whole
        windows of the largest cut span (long chunks, cheap to encode) while it holds at most
        half the backlog limit; otherwise whole block ranges up to half a block before the end.
        """
        span = self.head.time_range()
        if span is None or span[1] - span[0] <= self.block_ms * 3 // 2:
            return None
        end = span[1] - self.block_ms // 2
        behind = self._now() - span[1] > 3 * self.block_ms
        if behind and self.head.num_samples <= self.settings.head_max_backlog_samples // 2:
            before = end // self._spans[-1] * self._spans[-1]
            return before if before > span[0] else None
        return end // self.block_ms * self.block_ms

    def _cut_while_due(self) -> None:
        """Cut until the head is within bounds; failures are logged and retried later."""
        with self._cut_mutex:
            if self._closed:
                return
            try:
                while True:
                    with self._head_lock:
                        before = self._due_before()
                    if before is None:
                        return
                    self._cut(before)
            except (OpenManagerError, OSError):
                # The samples are durable in the WAL already; the next attempt cuts them.
                log.exception("cutting the head into blocks failed; will retry")

    def flush(self) -> None:
        """Write everything in the head to blocks now (for backfill, export, benchmarks)."""
        with self._cut_mutex:
            with self._head_lock:
                span = self.head.time_range()
            if span is not None:
                self._cut(span[1] + 1)

    def _cut(self, before_ms: int) -> None:
        """Persist head samples with t < before_ms as blocks, then shrink head and WAL.

        The caller holds `_cut_mutex` (so no delete or other cut runs meanwhile). Encoding happens
        outside the head lock; samples appended below the cut point meanwhile (out of order) are
        written under the lock, just before the head drops the range.
        """
        with self._head_lock:
            parts = self.head.peek_parts_before(before_ms)
            refs = _unique_refs(parts)
            labels = {r: self.head.labels_of(r) for r in refs.tolist()}
            meta = dict(self.head.meta)
        run = concat_sorted(parts)  # outside the lock: appends go on meanwhile
        span = self._cut_span(run, before_ms)
        pool = self._pool if len(run.refs) >= self.settings.cut_worker_min_samples else None
        for block in self._split_ranges(run, labels.__getitem__, span):
            self.blocks.add_block(block, meta, span_ms=span, pool=pool)
        with self._head_lock:
            if self.head.count_before(before_ms) == len(run.refs):  # the head only grows here
                late = Run(run.refs[:0], run.ts[:0], run.values[:0])
            else:  # samples arrived below the cut point meanwhile (out of order)
                late = _missing(run, self.head.peek_before(before_ms))
            for block in self._split_ranges(late, self.head.labels_of, self.block_ms):
                self.blocks.add_block(block, dict(self.head.meta), span_ms=self.block_ms)
            self.wal.append(WalCut(before_ms))
            dropped = self.head.drop_before(before_ms)
            self.wal.checkpoint(self.head.snapshot())
        self.changed()
        log.info(
            "cut %d samples (%d late) before t=%d into blocks; %d idle series left the head",
            len(run.refs) + len(late.refs),
            len(late.refs),
            before_ms,
            dropped,
        )

    def _cut_span(self, run: Run, before_ms: int) -> int:
        """Block span for a cut: the largest allowed span the cut's range covers (aligned)."""
        if not len(run.ts):
            return self.block_ms
        width = before_ms - int(run.ts.min()) // self.block_ms * self.block_ms
        return max((s for s in self._spans if s <= width), default=self.block_ms)

    def _split_ranges(
        self, run: Run, labels_of: Callable[[int], Labels], span_ms: int
    ) -> Iterator[list[tuple[Labels, Int64Array, Float64Array]]]:
        """Samples of a sorted run grouped by aligned range of `span_ms`, then by series."""
        if not len(run.refs):
            return
        rng = run.ts // span_ms
        order = np.argsort(rng, kind="stable")
        refs, ts, vals, rng = run.refs[order], run.ts[order], run.values[order], rng[order]
        cuts = np.flatnonzero((refs[1:] != refs[:-1]) | (rng[1:] != rng[:-1])) + 1
        starts = np.concatenate([[0], cuts])
        ends = np.concatenate([cuts, [len(refs)]])
        block: list[tuple[Labels, Int64Array, Float64Array]] = []
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True):  # a loop per series
            if block and rng[a] != rng[a - 1]:
                yield block
                block = []
            block.append((labels_of(int(refs[a])), ts[a:b], vals[a:b]))
        yield block

    def maintain(self) -> None:
        """Periodic work: cut the head if due, then compaction, downsampling and retention."""
        self._cut_while_due()
        self.blocks.maintain(self._now())
        self.changed()  # retention may have dropped data

    # -- read --------------------------------------------------------------------------------

    def select(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[Series]:
        """Raw samples of matching series in [start, end], head and blocks merged."""
        # Head first: a cut between the two reads then shows data twice (deduplicated), never not at all.
        with self._head_lock:
            recent = self.head.select(matchers, start_ms, end_ms)
        old = self.blocks.select(matchers, start_ms, end_ms)
        return merge_series(old, recent)

    def select_rollup(
        self, matchers: Sequence[Matcher], start_ms: int, end_ms: int, resolution_ms: int
    ) -> list[RollupSeries]:
        """Downsampled windows from the block tiers (the head is raw only: see best_resolution)."""
        return self.blocks.select_rollup(matchers, start_ms, end_ms, resolution_ms)

    def best_resolution(self, start_ms: int, end_ms: int, step_ms: int) -> int:
        """Coarsest tier resolution <= step whose rollups cover [start, end]; 0 means raw."""
        return self.blocks.best_resolution(start_ms, end_ms, step_ms)

    def series(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[Labels]:
        """Label sets of matching series with samples in the range."""
        with self._head_lock:
            found = set(self.head.series(matchers, start_ms, end_ms))
        found.update(self.blocks.series(matchers, start_ms, end_ms))
        return sorted(found)

    def label_names(
        self,
        matchers: Sequence[Matcher] = (),
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> list[str]:
        """Sorted label names of (matching) series."""
        with self._head_lock:
            if not matchers and start_ms is None and end_ms is None:
                names = set(self.head.label_names())
            else:
                lo, hi = _range(start_ms, end_ms)
                names = {k for lbls in self.head.series(matchers, lo, hi) for k, _ in lbls}
        names.update(self.blocks.label_names(matchers, start_ms, end_ms))
        return sorted(names)

    def label_values(
        self,
        name: str,
        matchers: Sequence[Matcher] = (),
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> list[str]:
        """Sorted values of one label among (matching) series."""
        with self._head_lock:
            if not matchers and start_ms is None and end_ms is None:
                values = set(self.head.label_values(name))
            else:
                lo, hi = _range(start_ms, end_ms)
                values = {
                    v for lbls in self.head.series(matchers, lo, hi) for k, v in lbls if k == name
                }
        values.update(self.blocks.label_values(name, matchers, start_ms, end_ms))
        return sorted(values)

    def metadata(self, metric: str | None = None) -> dict[str, SeriesMeta]:
        """Type, help and unit per metric family; the head's (newest) entry wins."""
        out = dict(self.blocks.metadata(metric))
        with self._head_lock:
            out.update((k, m) for k, m in self.head.meta.items() if metric is None or k == metric)
        return out

    # -- delete, stats, close ------------------------------------------------------------------

    def delete_series(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> int:
        """Delete matching samples in [start, end]; returns how many series had some there."""
        with self._cut_mutex:  # a cut in progress would otherwise publish deleted samples
            touched = set(self.series(matchers, start_ms, end_ms))
            with self._head_lock:
                refs = self.head.matching_refs(matchers)
                if len(refs):
                    self.wal.append(WalTombstone(refs, start_ms, end_ms))
                    self.head.delete(refs, start_ms, end_ms)
            self.blocks.delete(matchers, start_ms, end_ms)
            self.changed()
        return len(touched)

    @property
    def cut_worker_pid(self) -> int | None:
        """Process id of the block-writing worker, or None while none runs."""
        return self._pool.pid

    def wait_for_cuts(self, timeout: float | None = None) -> bool:
        """Wait until the cuts asked for so far are done (or failed); False on timeout."""
        return self._cutter.wait_idle(timeout)

    def stats(self) -> StorageStats:
        """Series, samples and bytes on disk (blocks + WAL), overall and per tier.

        Settled: waits for pending cuts, and no cut runs meanwhile (none is counted twice)."""
        self._cutter.wait_idle()
        with self._cut_mutex:
            with self._head_lock:
                head_series = self.head.series_set((), T_MIN, T_MAX)
                head_samples = self.head.num_samples
                wal_bytes = self.wal.size_bytes()
            tiers = self.blocks.tier_stats()
            block_series = self.blocks.series(ANY_SERIES, T_MIN, T_MAX)
        raw = [t for t in tiers if t.name == "raw"]
        return StorageStats(
            series=len(head_series.union(block_series)),
            samples=head_samples + sum(t.samples for t in raw),
            bytes_on_disk=wal_bytes + sum(t.bytes_on_disk for t in tiers),
            head_series=self.head.num_series,
            head_samples=head_samples,
            tiers=tiers,
        )

    def close(self) -> None:
        """Flush the WAL, close the block store and release the directory (idempotent)."""
        if self._closed:
            return
        self._cutter.stop()
        with self._cut_mutex, self._head_lock:
            self._pool.close()
            self.wal.close()
            self.blocks.close()
            self._dirlock.release()
            self._closed = True

    def __enter__(self) -> EmbeddedStorage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def cut_spans(block_ms: int, raw_retention_ms: int) -> list[int]:
    """Block spans a cut may write: the block duration, then the compaction ranges that are
    multiples of it up to 9 block durations and a day (2h, 6h, 18h by default), aligned like
    compaction's windows and never wider than compaction would make them."""
    spans = [block_ms]
    cap = min(9 * block_ms, MAX_RAW_CHUNK_SPAN_MS)
    for r in ranges_for_retention(raw_retention_ms):
        if block_ms < r <= cap and r % block_ms == 0:
            spans.append(r)
    return spans


def _range(start_ms: int | None, end_ms: int | None) -> tuple[int, int]:
    return (T_MIN if start_ms is None else start_ms, T_MAX if end_ms is None else end_ms)


def _unique_refs(parts: Sequence[Run]) -> Int64Array:
    """Sorted distinct refs of runs sorted by ref (a linear pass per run, then a small unique)."""
    firsts = []
    for p in parts:
        if len(p.refs):
            firsts.append(p.refs[np.concatenate([[True], p.refs[1:] != p.refs[:-1]])])
    return np.unique(np.concatenate(firsts)) if firsts else _NO_REFS


def _missing(seen: Run, now: Run) -> Run:
    """Rows of `now` whose (ref, ts) is not in `seen` (seen is a subset of now; both sorted)."""
    if len(now.refs) == len(seen.refs):
        return Run(now.refs[:0], now.ts[:0], now.values[:0])
    n = len(seen.refs)
    refs = np.concatenate([seen.refs, now.refs])
    ts = np.concatenate([seen.ts, now.ts])
    order = np.lexsort((ts, refs))
    refs, ts = refs[order], ts[order]
    same = (refs[1:] == refs[:-1]) & (ts[1:] == ts[:-1])
    paired = np.zeros(len(refs), dtype=bool)
    paired[1:] |= same
    paired[:-1] |= same
    pick = order[~paired] - n  # unpaired rows all come from `now`, still in (ref, ts) order
    return Run(now.refs[pick], now.ts[pick], now.values[pick])
