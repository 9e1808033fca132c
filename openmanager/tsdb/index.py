"""In-memory postings index: label name -> value -> sorted series ids; resolves matchers."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from openmanager.samples import Labels
from openmanager.tsdb.matchers import Matcher, MatchType

IdArray = npt.NDArray[np.int64]
_EMPTY: IdArray = np.zeros(0, dtype=np.int64)


class PostingsIndex:
    """Maps label pairs to series ids (ids are the caller's, e.g. head refs or block ordinals)."""

    def __init__(self) -> None:
        self._lists: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        self._frozen: dict[tuple[str, str], IdArray] = {}
        self._all: list[int] = []
        self._all_frozen: IdArray | None = None

    def add(self, series_id: int, labels: Labels) -> None:
        """Index a new series; ids must be added in increasing order."""
        self._all.append(series_id)
        self._all_frozen = None
        for name, value in labels:
            self._lists[name][value].append(series_id)
            self._frozen.pop((name, value), None)

    def remove(self, series_ids: Iterable[int], labels_of: Sequence[Labels]) -> None:
        """Drop series from the index (used by delete and head truncation)."""
        gone = set(series_ids)
        for labels in labels_of:
            for name, value in labels:
                ids = self._lists.get(name, {}).get(value)
                if ids is None:
                    continue
                ids[:] = [i for i in ids if i not in gone]
                self._frozen.pop((name, value), None)
                if not ids:
                    del self._lists[name][value]
                    if not self._lists[name]:
                        del self._lists[name]
        self._all = [i for i in self._all if i not in gone]
        self._all_frozen = None

    def all_ids(self) -> IdArray:
        """Every indexed series id, sorted."""
        if self._all_frozen is None:
            self._all_frozen = np.asarray(self._all, dtype=np.int64)
        return self._all_frozen

    def postings(self, name: str, value: str) -> IdArray:
        """Sorted ids of series with label name=value."""
        key = (name, value)
        arr = self._frozen.get(key)
        if arr is None:
            ids = self._lists.get(name, {}).get(value)
            if not ids:
                return _EMPTY
            arr = np.asarray(ids, dtype=np.int64)
            self._frozen[key] = arr
        return arr

    def label_names(self) -> list[str]:
        """Sorted label names present in the index."""
        return sorted(self._lists)

    def label_values(self, name: str) -> list[str]:
        """Sorted values of one label."""
        return sorted(self._lists.get(name, {}))

    def _union_of(self, name: str, values: Iterable[str]) -> IdArray:
        parts = [self.postings(name, v) for v in values]
        parts = [p for p in parts if len(p)]
        if not parts:
            return _EMPTY
        return parts[0] if len(parts) == 1 else np.unique(np.concatenate(parts))

    def _matching(self, m: Matcher) -> IdArray:
        """Ids of series whose label `m.name` is present and matches `m`."""
        if m.type is MatchType.EQ:
            return self.postings(m.name, m.value)
        values = self._lists.get(m.name, {})
        return self._union_of(m.name, [v for v in values if m.matches(v)])

    def _having(self, name: str) -> IdArray:
        return self._union_of(name, self._lists.get(name, {}))

    def select(self, matchers: Sequence[Matcher]) -> IdArray:
        """Sorted ids of series matching all matchers (a missing label matches as '')."""
        result: IdArray | None = None
        for m in sorted(matchers, key=lambda m: m.matches_empty()):
            if m.matches_empty():
                # Series lacking the label also match: subtract those that have a non-matching value.
                non_matching = self._union_of(
                    m.name, [v for v in self._lists.get(m.name, {}) if not m.matches(v)]
                )
                base = self.all_ids() if result is None else result
                result = np.setdiff1d(base, non_matching, assume_unique=True)
            else:
                ids = self._matching(m)
                result = ids if result is None else np.intersect1d(result, ids, assume_unique=True)
            if len(result) == 0:
                return _EMPTY
        return self.all_ids() if result is None else result
