"""Bulk import: history older than the head written straight to large raw blocks, no WAL or head.

A `BulkImport` validates each batch (labels once per series, future timestamps vectorised),
hands samples at or after the head's start to the normal WAL path, and buffers the rest per
series. `commit` sorts and deduplicates each series, writes one block per aligned window of
`import_span_ms` (one long chunk per series: fast to encode, small on disk), fsyncs and renames
each block into place, and merges blocks that overlap stored data, so re-imports never count a
sample twice. Samples are durable once `commit` (or a flush forced by the memory bound) returns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING

import numpy as np

from openmanager.errors import InvalidInput
from openmanager.samples import Float64Array, Int64Array, Labels, SampleBatch, SeriesMeta
from openmanager.tsdb.block_format import HOUR_MS
from openmanager.tsdb.labelcheck import canonical_labels, describe
from openmanager.tsdb.storage import AppendResult
from openmanager.units import format_duration

if TYPE_CHECKING:
    from openmanager.tsdb.engine import EmbeddedStorage

DEFAULT_MAX_BUFFERED = 64_000_000
"""Samples buffered before an early flush (~1 GiB): the peers' 20 M-sample week fits once."""
IMPORT_SPANS_MS = (24 * HOUR_MS, 6 * HOUR_MS, 2 * HOUR_MS)
"""Block spans an import may write, largest first (aligned like the chunks of compaction)."""
MAX_NAMED = 5


def import_span_ms(raw_retention_ms: int) -> int:
    """The largest import block span that is at most a seventh of the raw retention."""
    for span in IMPORT_SPANS_MS:
        if raw_retention_ms <= 0 or span * 7 <= raw_retention_ms:
            return span
    return IMPORT_SPANS_MS[-1]


@dataclass
class ImportSummary:
    """What a bulk import did once committed (the WAL part is in `via_head`)."""

    buffered: int = 0
    """Samples accepted into the buffer by `add` (provisionally counted as accepted there)."""
    written: int = 0
    """Samples written to new blocks."""
    input_duplicates: int = 0
    """Repeated (series, timestamp) with the same value within the import: stored once."""
    already_stored: int = 0
    """Written samples whose (series, timestamp) was stored before: merged away, newest wins."""
    conflicts: int = 0
    """Repeated (series, timestamp) with a different value in the input: the first one is kept."""
    blocks: int = 0
    merges: int = 0
    added: AppendResult = field(default_factory=AppendResult)
    """Every `add` result folded together (buffered samples counted as accepted)."""
    via_head: AppendResult = field(default_factory=AppendResult)
    """The part of `added` that went through the WAL and head."""
    errors: list[str] = field(default_factory=list)

    @property
    def stored(self) -> int:
        """Samples new in the store: written to blocks minus those already there."""
        return self.written - self.already_stored

    @property
    def duplicates(self) -> int:
        """Buffered samples not stored because the same timestamp is stored once."""
        return self.input_duplicates + self.already_stored


class BulkImport:
    """One import session of an `EmbeddedStorage`; a context manager that commits on success."""

    def __init__(
        self,
        storage: EmbeddedStorage,
        *,
        span_ms: int,
        max_buffered: int = DEFAULT_MAX_BUFFERED,
        observe: Callable[[SampleBatch], None] | None = None,
    ) -> None:
        if max_buffered <= 0:
            raise InvalidInput("max_buffered must be positive")
        self._storage = storage
        self._span = span_ms
        self._max = max_buffered
        self._observe = observe
        self._canon: dict[Labels, Labels | None] = {}
        self._pieces: dict[Labels, list[tuple[Int64Array, Float64Array]]] = {}
        self._meta: dict[str, SeriesMeta] = {}
        self._n = 0
        self._done = False
        self.summary = ImportSummary()

    def add(self, batch: SampleBatch) -> AppendResult:
        """Validate and buffer a batch; samples in the head's range go through the WAL at once.

        The result counts buffered samples as accepted; duplicates among them are found and
        reported by `commit` (ImportSummary), which is when they become durable.
        """
        if self._done:
            raise InvalidInput("this bulk import was already committed")
        if self._observe is not None:
            self._observe(batch)
        result = AppendResult()
        self._meta.update(batch.metadata)
        if not len(batch):
            return result
        canon = self._canonical(batch.series, result)
        ok = np.fromiter((c is not None for c in canon), dtype=bool, count=len(canon))
        refs = batch.series_ref
        keep = ok[refs]
        ts, vs = batch.timestamps, batch.values
        now = self._storage.now_ms()
        tol = self._storage.head.future_tolerance_ms
        future = keep & (ts > now + tol)
        if future.any():
            result.too_far_in_future = int(future.sum())
            named = sorted({int(r) for r in np.unique(refs[future])[:MAX_NAMED]})
            result.errors += [
                f"too far in the future: {describe(batch.series[r])} has samples more than "
                f"{format_duration(tol)} ahead of now"
                for r in named
            ]
            keep &= ~future
        head_start = self._storage.head_start_ms()
        if head_start is not None:
            recent = keep & (ts >= head_start)
            if recent.any():
                sub = SampleBatch(
                    batch.series, refs[recent], ts[recent], vs[recent], batch.metadata
                )
                via = self._storage.append(sub)
                _fold(result, via)
                _fold(self.summary.via_head, via)
                keep &= ~recent
        self._buffer(canon, refs[keep], ts[keep], vs[keep])
        result.accepted += int(keep.sum())
        _fold(self.summary.added, result)
        if self._n >= self._max:
            self.flush()
        return result

    def _canonical(self, series: list[Labels], result: AppendResult) -> list[Labels | None]:
        out: list[Labels | None] = []
        for labels in series:  # once per series of the batch, cached across batches
            try:
                known = labels in self._canon
            except TypeError:
                known = False
            if known:
                out.append(self._canon[labels])
                continue
            try:
                canon: Labels | None = canonical_labels(labels)
            except InvalidInput as exc:
                result.rejected_series += 1
                result.errors.append(f"rejected {exc.message}")
                canon = None
            try:
                self._canon[labels] = canon
            except TypeError:
                pass
            out.append(canon)
        return out

    def _buffer(
        self, canon: list[Labels | None], refs: Int64Array, ts: Int64Array, vs: Float64Array
    ) -> None:
        if not len(refs):
            return
        if len(refs) > 1 and not bool(np.all(refs[1:] >= refs[:-1])):
            order = np.argsort(refs, kind="stable")
            refs, ts, vs = refs[order], ts[order], vs[order]
        starts = np.flatnonzero(np.concatenate([[True], refs[1:] != refs[:-1]]))
        ends = np.append(starts[1:], len(refs))
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True):  # a loop per series
            labels = canon[int(refs[a])]
            assert labels is not None
            self._pieces.setdefault(labels, []).append((ts[a:b], vs[a:b]))
        self._n += len(refs)
        self.summary.buffered += len(refs)

    def flush(self) -> None:
        """Write what is buffered as blocks now (durable on return); the session stays open."""
        if not self._pieces:
            return
        series: dict[Labels, tuple[Int64Array, Float64Array]] = {}
        for labels, pieces in self._pieces.items():
            series[labels] = self._sorted_unique(labels, pieces)
        self._pieces.clear()
        self._n = 0
        meta = dict(self._storage.head.meta)
        meta.update(self._meta)
        outcome = self._storage.blocks.import_raw(series, meta, self._span)
        self._storage.changed()
        s = self.summary
        s.written += sum(m.num_samples for m in outcome.blocks)
        s.blocks += len(outcome.blocks)
        s.merges += outcome.merges
        s.already_stored += outcome.merged_away

    def _sorted_unique(
        self, labels: Labels, pieces: list[tuple[Int64Array, Float64Array]]
    ) -> tuple[Int64Array, Float64Array]:
        """One series sorted by time; of repeated timestamps the first is kept and counted."""
        ts = pieces[0][0] if len(pieces) == 1 else np.concatenate([p[0] for p in pieces])
        vs = pieces[0][1] if len(pieces) == 1 else np.concatenate([p[1] for p in pieces])
        if len(ts) < 2 or bool(np.all(ts[1:] > ts[:-1])):
            return ts, vs
        order = np.argsort(ts, kind="stable")
        ts, vs = ts[order], vs[order]
        repeat = np.zeros(len(ts), dtype=bool)
        repeat[1:] = ts[1:] == ts[:-1]
        first_of = np.maximum.accumulate(np.where(repeat, 0, np.arange(len(ts))))
        bits = vs.view(np.uint64)
        conflict = repeat & (bits != bits[first_of])
        n_conf = int(conflict.sum())
        n_dup = int(repeat.sum()) - n_conf
        self.summary.input_duplicates += n_dup
        self.summary.conflicts += n_conf
        if n_conf and len(self.summary.errors) < 100:
            t = int(ts[np.flatnonzero(conflict)[0]])
            self.summary.errors.append(
                f"duplicate sample for timestamp: {describe(labels)} at t={t} has a different "
                f"value than an earlier one in the import ({n_conf} such samples, first kept)"
            )
        return ts[~repeat], vs[~repeat]

    def commit(self) -> ImportSummary:
        """Write the rest and close the session; returns what the whole import did."""
        if not self._done:
            self.flush()
            self._done = True
        return self.summary

    def discard(self) -> None:
        """Drop what is still buffered (blocks already flushed stay)."""
        self._pieces.clear()
        self._n = 0
        self._done = True

    def __enter__(self) -> BulkImport:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()


def _fold(into: AppendResult, part: AppendResult) -> None:
    into.accepted += part.accepted
    into.duplicates += part.duplicates
    into.out_of_order += part.out_of_order
    into.too_old += part.too_old
    into.too_far_in_future += part.too_far_in_future
    into.rejected_series += part.rejected_series
    into.errors += part.errors
