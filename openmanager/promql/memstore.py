"""A small in-memory `Storage`, for tests and tools that evaluate PromQL over a handful of series.

Not a database: no durability, no compression. It implements the whole `Storage` protocol so
the query engine can be exercised without the embedded TSDB.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from openmanager.samples import Labels, SampleBatch, SeriesMeta, labels_get
from openmanager.tsdb.matchers import Matcher, matches_all
from openmanager.tsdb.storage import AppendResult, Series, StorageStats


class MemoryStorage:
    """Series held as sorted NumPy arrays; later samples at an existing timestamp replace it."""

    def __init__(self) -> None:
        self._data: dict[Labels, tuple[np.ndarray, np.ndarray]] = {}
        self._meta: dict[str, SeriesMeta] = {}

    def append(self, batch: SampleBatch) -> AppendResult:
        for labels, ts, vs in batch.per_series():
            old = self._data.get(labels)
            if old is not None:
                ts = np.concatenate([old[0], ts])
                vs = np.concatenate([old[1], vs])
            # keep the last value written for a timestamp
            rev_ts, rev_idx = np.unique(ts[::-1], return_index=True)
            self._data[labels] = (rev_ts.astype(np.int64), vs[::-1][rev_idx].astype(np.float64))
        self._meta.update(batch.metadata)
        return AppendResult(accepted=len(batch))

    def _matching(self, matchers: Sequence[Matcher]) -> list[Labels]:
        return sorted(lbl for lbl in self._data if matches_all(lbl, tuple(matchers)))

    def select(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[Series]:
        out = []
        for lbl in self._matching(matchers):
            ts, vs = self._data[lbl]
            lo = int(np.searchsorted(ts, start_ms, side="left"))
            hi = int(np.searchsorted(ts, end_ms, side="right"))
            if hi > lo:
                out.append(Series(lbl, ts[lo:hi], vs[lo:hi]))
        return out

    def series(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[Labels]:
        return [s.labels for s in self.select(matchers, start_ms, end_ms)]

    def label_names(
        self,
        matchers: Sequence[Matcher] = (),
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> list[str]:
        return sorted({k for lbl in self._matching(matchers) for k, _ in lbl})

    def label_values(
        self,
        name: str,
        matchers: Sequence[Matcher] = (),
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> list[str]:
        vals = {labels_get(lbl, name) for lbl in self._matching(matchers)}
        return sorted(v for v in vals if v)

    def metadata(self, metric: str | None = None) -> dict[str, SeriesMeta]:
        if metric is None:
            return dict(self._meta)
        return {metric: self._meta[metric]} if metric in self._meta else {}

    def delete_series(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> int:
        touched = 0
        for lbl in self._matching(matchers):
            ts, vs = self._data[lbl]
            keep = (ts < start_ms) | (ts > end_ms)
            if not keep.all():
                touched += 1
                self._data[lbl] = (ts[keep], vs[keep])
        return touched

    def stats(self) -> StorageStats:
        n = sum(len(ts) for ts, _ in self._data.values())
        return StorageStats(len(self._data), n, 0, len(self._data), n)

    def close(self) -> None:
        self._data.clear()
