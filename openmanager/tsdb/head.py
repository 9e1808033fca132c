"""In-memory head: the recent samples of every active series, before they are cut into blocks.

Series are a dict from interned labels to a ref, a postings index over refs, and per-ref NumPy
arrays (first/last timestamp, last value bits). Samples live in columnar runs (`head_columns`).
Appends are two-phase: `prepare` validates a batch (vectorised), the caller logs the accepted
part to the WAL, then `commit` applies it; replay feeds WAL records to `apply`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from openmanager.errors import InvalidInput
from openmanager.samples import Int64Array, Labels, SampleBatch, SeriesMeta
from openmanager.tsdb.head_columns import Columns
from openmanager.tsdb.head_run import Run, sort_run
from openmanager.tsdb.head_verdict import judge
from openmanager.tsdb.index import PostingsIndex
from openmanager.tsdb.labelcheck import canonical_labels, describe
from openmanager.tsdb.matchers import Matcher
from openmanager.tsdb.storage import AppendResult, Series
from openmanager.tsdb.wal_records import WalBatch, WalRecord

T_MIN = np.iinfo(np.int64).min
T_MAX = np.iinfo(np.int64).max
MAX_ERRORS = 20
_MIN_SEEN = 65_536  # identity-cache entries kept before it is cleared (or 2 per series)


@dataclass
class AppendPlan:
    """A validated batch: what to log to the WAL and then commit."""

    series: list[tuple[int, Labels]]
    run: Run
    metadata: dict[str, SeriesMeta]
    result: AppendResult = field(default_factory=AppendResult)

    def wal_record(self) -> WalBatch:
        """The WAL record that makes this plan durable."""
        return WalBatch(self.series, self.run.refs, self.run.ts, self.run.values, self.metadata)

    @property
    def empty(self) -> bool:
        """Nothing to log or apply."""
        return not self.series and not len(self.run.refs) and not self.metadata


class Head:
    """Recent samples of active series; not thread-safe (the engine holds the lock)."""

    def __init__(self, *, ooo_window_ms: int, future_tolerance_ms: int) -> None:
        self.ooo_window_ms = ooo_window_ms
        self.future_tolerance_ms = future_tolerance_ms
        self._refs: dict[Labels, int] = {}
        self._seen: dict[int, tuple[Labels, int]] = {}
        """Refs of label tuples by object identity: receivers hand in the same cached tuple
        for a series every time, and hashing a tuple of pairs costs more than the rest."""
        self._labels: list[Labels | None] = []
        self._pairs: dict[tuple[str, str], tuple[str, str]] = {}
        self._index = PostingsIndex()
        self._min_ts: Int64Array = np.zeros(0, dtype=np.int64)
        self._max_ts: Int64Array = np.zeros(0, dtype=np.int64)
        self._last_bits = np.zeros(0, dtype=np.uint64)
        self._registered = np.zeros(0, dtype=bool)
        self.columns = Columns()
        self.meta: dict[str, SeriesMeta] = {}

    # -- sizes -------------------------------------------------------------------------------

    @property
    def num_series(self) -> int:
        """Series currently registered in the head."""
        return len(self._refs)

    @property
    def num_samples(self) -> int:
        """Samples currently held."""
        return len(self.columns)

    def time_range(self) -> tuple[int, int] | None:
        """(min, max) sample timestamp in the head."""
        return self.columns.time_range()

    def labels_of(self, ref: int) -> Labels:
        """Labels of a registered ref."""
        labels = self._labels[ref]
        if labels is None:
            raise InvalidInput(f"series ref {ref} is not in the head")
        return labels

    # -- append --------------------------------------------------------------------------------

    def _ensure_capacity(self, n: int) -> None:
        cap = len(self._max_ts)
        if n <= cap:
            return
        new = max(n, 2 * cap, 1024)
        self._min_ts = np.concatenate([self._min_ts, np.full(new - cap, T_MAX, np.int64)])
        self._max_ts = np.concatenate([self._max_ts, np.full(new - cap, T_MIN, np.int64)])
        self._last_bits = np.concatenate([self._last_bits, np.zeros(new - cap, np.uint64)])
        self._registered = np.concatenate([self._registered, np.zeros(new - cap, bool)])

    def prepare(self, batch: SampleBatch, now_ms: int) -> AppendPlan:
        """Validate a batch against the head; nothing changes until `commit`."""
        result = AppendResult()
        errors: list[str] = []
        next_ref = len(self._labels)
        new_series: list[tuple[int, Labels]] = []
        pending: dict[Labels, int] = {}
        mapping = np.full(len(batch.series), -1, dtype=np.int64)
        seen = self._seen
        for i, labels in enumerate(batch.series):  # a loop per series, not per sample
            hit = seen.get(id(labels))
            if hit is not None and hit[0] is labels:
                mapping[i] = hit[1]
                continue
            try:
                ref = self._refs.get(labels)
            except TypeError:
                ref = None
            if ref is not None:
                if len(seen) >= max(_MIN_SEEN, 2 * len(self._refs)):
                    seen.clear()
                seen[id(labels)] = (labels, ref)  # holding `labels` keeps its id unique
            else:
                try:
                    canon = canonical_labels(labels)
                except InvalidInput as exc:
                    result.rejected_series += 1
                    errors.append(f"rejected {exc.message}")
                    continue
                ref = self._refs.get(canon, pending.get(canon))
                if ref is None:
                    ref = next_ref + len(new_series)
                    new_series.append((ref, canon))
                    pending[canon] = ref
            mapping[i] = ref
        self._ensure_capacity(next_ref + len(new_series))

        def name(ref: int) -> str:
            labels = self._labels[ref] if ref < next_ref else new_series[ref - next_ref][1]
            return describe(labels)

        refs = mapping[batch.series_ref] if len(batch) else np.zeros(0, np.int64)
        keep = refs >= 0
        run = sort_run(refs[keep], batch.timestamps[keep], batch.values[keep])
        verdict = judge(self, run, now_ms, name)
        result.accepted = int(verdict.accept.sum())
        result.duplicates = verdict.duplicates
        result.out_of_order = verdict.out_of_order
        result.too_old = verdict.too_old
        result.too_far_in_future = verdict.too_far_in_future
        errors.extend(verdict.errors)
        if len(errors) > MAX_ERRORS:
            errors = errors[:MAX_ERRORS] + [f"... and {len(errors) - MAX_ERRORS} more errors"]
        result.errors = errors
        acc = verdict.accept
        metadata = {k: m for k, m in batch.metadata.items() if self.meta.get(k) != m}
        accepted = Run(run.refs[acc], run.ts[acc], run.values[acc])
        if new_series:  # register only new series that got a sample stored
            stored = set(np.unique(accepted.refs[accepted.refs >= next_ref]).tolist())
            new_series = [(ref, lbl) for ref, lbl in new_series if ref in stored]
        return AppendPlan(new_series, accepted, metadata, result)

    def commit(self, plan: AppendPlan) -> None:
        """Apply a prepared (and logged) plan."""
        self.apply(plan.wal_record())

    def apply(self, rec: WalBatch, *, check_refs: bool = False) -> int:
        """Apply a batch record: register its series, add its samples, update metadata.

        With `check_refs` (WAL replay), samples of unknown refs are skipped; returns how many.
        """
        if rec.series:
            self._ensure_capacity(max(ref for ref, _ in rec.series) + 1)
        for ref, labels in rec.series:
            self._register(ref, labels)
        self.meta.update(rec.metadata)
        if not len(rec.refs):
            return 0
        run = Run(rec.refs, rec.timestamps, rec.values)
        skipped = 0
        if check_refs:
            ok = (run.refs >= 0) & (run.refs < len(self._labels))
            ok[ok] = self._registered[run.refs[ok]]
            if not ok.all():
                skipped = int((~ok).sum())
                run = Run(run.refs[ok], run.ts[ok], run.values[ok])
        run = sort_run(run.refs, run.ts, run.values)  # no copy when already sorted
        if len(run.refs):
            self.columns.add(run)
            self._update_bounds(run)
        return skipped

    def _register(self, ref: int, labels: Labels) -> None:
        interned = tuple(self._pairs.get(p) or self._own_pair(p) for p in labels)
        while len(self._labels) <= ref:
            self._labels.append(None)
        if self._labels[ref] is not None:
            return
        self._labels[ref] = interned
        self._registered[ref] = True
        self._refs[interned] = ref
        self._index.add(ref, interned)

    def _own_pair(self, pair: tuple[str, str]) -> tuple[str, str]:
        """Intern a label pair as fresh objects, so the caller's batch never stays pinned in memory
        (a kept reference into its allocator pages would hold them all)."""
        own = (_copy_str(pair[0]), _copy_str(pair[1]))
        self._pairs[own] = own
        return own

    def _update_bounds(self, run: Run) -> None:
        r, t = run.refs, run.ts
        change = np.flatnonzero(r[1:] != r[:-1])
        first = np.concatenate([[0], change + 1])
        last = np.concatenate([change, [len(r) - 1]])
        ur = r[first]
        self._min_ts[ur] = np.minimum(self._min_ts[ur], t[first])
        newer = t[last] > self._max_ts[ur]
        self._max_ts[ur[newer]] = t[last][newer]
        self._last_bits[ur[newer]] = run.values[last][newer].view(np.uint64)

    def max_ts_of(self, refs: Int64Array) -> Int64Array:
        """Latest timestamp per ref (INT64 min for series without samples)."""
        return self._max_ts[refs]

    def last_bits_of(self, refs: Int64Array) -> npt.NDArray[np.uint64]:
        """Bit pattern of the value at the latest timestamp per ref."""
        return self._last_bits[refs]

    # -- read ----------------------------------------------------------------------------------

    def _select_refs(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> Int64Array:
        ids = self._index.select(matchers)
        if len(ids):
            ids = ids[(self._min_ts[ids] <= end_ms) & (self._max_ts[ids] >= start_ms)]
        return ids

    def select(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[Series]:
        """Samples of matching series with start <= t <= end."""
        run = self.columns.gather(self._select_refs(matchers, start_ms, end_ms), start_ms, end_ms)
        if not len(run.refs):
            return []
        bounds = np.concatenate([[0], np.flatnonzero(np.diff(run.refs)) + 1, [len(run.refs)]])
        out = []
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):  # a loop per series
            out.append(Series(self.labels_of(int(run.refs[a])), run.ts[a:b], run.values[a:b]))
        out.sort(key=lambda s: s.labels)
        return out

    def series(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[Labels]:
        """Labels of matching series whose head time span overlaps the range, sorted."""
        return sorted(self.series_set(matchers, start_ms, end_ms))

    def series_set(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> set[Labels]:
        """Like `series`, unordered (cheaper for counting and unions)."""
        labels = self._labels
        refs = self._select_refs(matchers, start_ms, end_ms).tolist()
        return {lbl for r in refs if (lbl := labels[r]) is not None}

    def label_names(self) -> list[str]:
        """All label names in the head."""
        return self._index.label_names()

    def label_values(self, name: str) -> list[str]:
        """All values of one label in the head."""
        return self._index.label_values(name)

    # -- delete, cut, checkpoint -----------------------------------------------------------------

    def matching_refs(self, matchers: Sequence[Matcher]) -> Int64Array:
        """Refs of every registered series matching the matchers."""
        return self._index.select(matchers)

    def delete(self, refs: Int64Array, start_ms: int, end_ms: int) -> Int64Array:
        """Remove samples of `refs` in [start, end]; returns the refs that lost samples."""
        refs = np.unique(np.asarray(refs, dtype=np.int64))
        refs = refs[refs < len(self._labels)]
        touched = self.columns.delete(refs, start_ms, end_ms)
        if len(touched):
            self._recompute_bounds(touched)
        return touched

    def _recompute_bounds(self, refs: Int64Array) -> None:
        self._min_ts[refs] = T_MAX
        self._max_ts[refs] = T_MIN
        self._last_bits[refs] = 0
        rest = self.columns.gather(refs, T_MIN, T_MAX)
        if len(rest.refs):
            self._update_bounds(rest)

    def peek_before(self, before_ms: int) -> Run:
        """Samples with t < before, sorted by (ref, ts), without removing them."""
        return self.columns.split(before_ms)[0]

    def peek_parts_before(self, before_ms: int) -> list[Run]:
        """Samples with t < before as sorted copies per run: `concat_sorted` merges them, and
        can do so outside the caller's lock (the head never changes them in place)."""
        return self.columns.split_parts(before_ms)[0]

    def count_before(self, before_ms: int) -> int:
        """How many samples have t < before."""
        return self.columns.count_before(before_ms)

    def drop_before(self, before_ms: int) -> int:
        """Remove samples with t < before and forget series left empty; returns series dropped."""
        taken, kept = self.columns.split_parts(before_ms)
        self.columns.runs = kept
        if taken:
            ur = np.unique(np.concatenate([t.refs for t in taken]))
            self._min_ts[ur] = np.maximum(self._min_ts[ur], before_ms)
        return self._gc(before_ms)

    def _gc(self, before_ms: int) -> int:
        live = np.zeros(len(self._labels), dtype=bool)
        live[self.columns.live_refs()] = True
        reg = self._registered[: len(self._labels)]
        recent = self._max_ts[: len(self._labels)] >= before_ms
        dead = np.flatnonzero(reg & ~live & ~recent)
        if not len(dead):
            return 0
        self._seen.clear()
        for ref in dead.tolist():
            labels = self._labels[ref]
            if labels is not None:
                del self._refs[labels]
            self._labels[ref] = None
        self._min_ts[dead], self._max_ts[dead], self._last_bits[dead] = T_MAX, T_MIN, 0
        self._registered[dead] = False
        self._index = PostingsIndex()
        self._pairs = {}
        for ref, labels in enumerate(self._labels):
            if labels is not None:
                for p in labels:
                    self._pairs.setdefault(p, p)
                self._index.add(ref, labels)
        return len(dead)

    def snapshot(
        self, series_per_record: int = 50_000, samples_per_record: int = 1 << 20
    ) -> Iterator[WalRecord]:
        """The whole head as WAL records (for a checkpoint)."""
        live = [(ref, lbl) for ref, lbl in enumerate(self._labels) if lbl is not None]
        empty = np.zeros(0, dtype=np.int64)
        yield WalBatch([], empty, empty, np.zeros(0), dict(self.meta))
        for lo in range(0, len(live), series_per_record):
            yield WalBatch(live[lo : lo + series_per_record], empty, empty, np.zeros(0))
        for run in self.columns.iter_slices(samples_per_record):
            yield WalBatch([], run.refs, run.ts, run.values)


def _copy_str(text: str) -> str:
    """A new string object equal to `text` (str() and slicing return the same object)."""
    return sys.intern(text) if len(text) <= 1 else (text[:1] + text[1:])
