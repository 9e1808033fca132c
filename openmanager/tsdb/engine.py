"""`EmbeddedStorage`: the `Storage` interface over a WAL-backed head and immutable blocks.

Write path: validate (head.prepare) -> WAL append (+fsync) -> head.commit -> acknowledge.
When the head spans more than 1.5 block durations, whole aligned block ranges are written to
the block store, a cut record is logged and the WAL is checkpointed down to the live head.
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
from openmanager.samples import Float64Array, Int64Array, Labels, SampleBatch, SeriesMeta
from openmanager.tsdb.block_api import TIERS, BlockBackend
from openmanager.tsdb.bulk import DEFAULT_MAX_BUFFERED, BulkImport, ImportSummary, import_span_ms
from openmanager.tsdb.dirlock import DirLock
from openmanager.tsdb.downsample import RollupSeries
from openmanager.tsdb.head import Head
from openmanager.tsdb.head_run import Run
from openmanager.tsdb.matchers import Matcher, MatchType
from openmanager.tsdb.series_merge import merge_series
from openmanager.tsdb.storage import AppendResult, Series, StorageStats
from openmanager.tsdb.wal import WriteAheadLog
from openmanager.tsdb.wal_records import WalBatch, WalCut, WalTombstone
from openmanager.units import parse_duration

log = logging.getLogger(__name__)

ANY_SERIES = (Matcher("__name__", MatchType.RE, ".+"),)
T_MIN, T_MAX = -(2**62), 2**62
"""'All time' bounds, far from int64 overflow in any arithmetic on them."""


def wall_clock_ms() -> int:
    """Current time in milliseconds since the epoch."""
    return time.time_ns() // 1_000_000


def retention_ms(settings: StorageSettings) -> dict[str, int]:
    """Retention per tier name, in milliseconds."""
    r = settings.retention
    return dict(zip(TIERS, map(parse_duration, (r.raw, r.m1, r.m5, r.h1)), strict=True))


class EmbeddedStorage:
    """The embedded TSDB; thread-safe: one lock guards head and WAL, the block store guards itself."""

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
            self.wal = WriteAheadLog(self.root / "wal", fsync=self.settings.wal_fsync)
            self._replay()
        except BaseException:
            self._dirlock.release()
            raise
        self._closed = False

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
        """Validate, log durably, then apply; returns once the accepted part survives a crash."""
        with self._head_lock:
            plan = self.head.prepare(batch, self._now())
            if not plan.empty:
                self.wal.append(plan.wal_record())
                self.head.commit(plan)
            try:
                self._cut_if_due()
            except (OpenManagerError, OSError):
                # The batch is durable already; the head is cut again on the next attempt.
                log.exception("cutting the head into blocks failed; will retry")
        return plan.result

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

    def _cut_if_due(self) -> None:
        span = self.head.time_range()
        if span is None or span[1] - span[0] <= self.block_ms * 3 // 2:
            return
        self._cut((span[1] - self.block_ms // 2) // self.block_ms * self.block_ms)

    def flush(self) -> None:
        """Write everything in the head to blocks now (for backfill, export, benchmarks)."""
        with self._head_lock:
            span = self.head.time_range()
            if span is not None:
                self._cut(span[1] + 1)

    def _cut(self, before_ms: int) -> None:
        """Persist head samples with t < before_ms as blocks, then shrink head and WAL."""
        run = self.head.peek_before(before_ms)
        for block in self._split_ranges(run):
            self.blocks.add_block(block, dict(self.head.meta))
        self.wal.append(WalCut(before_ms))
        dropped = self.head.drop_before(before_ms)
        self.wal.checkpoint(self.head.snapshot())
        log.info(
            "cut %d samples before t=%d into blocks; %d idle series left the head",
            len(run.refs),
            before_ms,
            dropped,
        )

    def _split_ranges(self, run: Run) -> Iterator[list[tuple[Labels, Int64Array, Float64Array]]]:
        """Samples of a sorted run grouped by aligned block range, then by series."""
        if not len(run.refs):
            return
        rng = run.ts // self.block_ms
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
            block.append((self.head.labels_of(int(refs[a])), ts[a:b], vals[a:b]))
        yield block

    def maintain(self) -> None:
        """Periodic work: cut the head if due, then compaction, downsampling and retention."""
        with self._head_lock:
            self._cut_if_due()
        self.blocks.maintain(self._now())

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
        touched = set(self.series(matchers, start_ms, end_ms))
        with self._head_lock:
            refs = self.head.matching_refs(matchers)
            if len(refs):
                self.wal.append(WalTombstone(refs, start_ms, end_ms))
                self.head.delete(refs, start_ms, end_ms)
        self.blocks.delete(matchers, start_ms, end_ms)
        return len(touched)

    def stats(self) -> StorageStats:
        """Series, samples and bytes on disk (blocks + WAL), overall and per tier."""
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
        with self._head_lock:
            self.wal.close()
            self.blocks.close()
            self._dirlock.release()
            self._closed = True

    def __enter__(self) -> EmbeddedStorage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _range(start_ms: int | None, end_ms: int | None) -> tuple[int, int]:
    return (T_MIN if start_ms is None else start_ms, T_MAX if end_ms is None else end_ms)
