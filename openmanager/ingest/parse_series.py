"""Series texts to series ids: each distinct `name{labels}` text is scanned once, then a dict hit."""

from __future__ import annotations

import numpy as np

from openmanager.ingest.parse_family import FamilyTracker
from openmanager.ingest.parse_line import series_labels
from openmanager.ingest.parse_types import LineError
from openmanager.samples import Int64Array, Labels


class _KeyCache(dict[bytes, int]):
    """Raw series text -> id; a miss scans the text (id -1 marks a text the scanner rejects)."""

    def __init__(self, table: SeriesTable) -> None:
        super().__init__()
        self._table = table

    def __missing__(self, key: bytes) -> int:
        try:
            labels = series_labels(key[1:].decode("utf-8"), self._table.openmetrics)
        except (LineError, UnicodeDecodeError):
            sid = -1
        else:
            sid = self._table.add(labels)
        self[key] = sid
        return sid


class SeriesTable:
    """Ids for the series seen so far, their labels and the id of their metric family."""

    def __init__(self, families: FamilyTracker, openmetrics: bool) -> None:
        self.openmetrics = openmetrics
        self._families = families
        self._keys = _KeyCache(self)
        self._by_labels: dict[Labels, int] = {}
        self.labels: list[Labels] = []
        self.family_names: list[str] = []
        self._family_ids: dict[str, int] = {}
        self._family_of_series: list[int] = []
        self._family_arr: Int64Array = np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.labels)

    def add(self, labels: Labels) -> int:
        """Id of a canonical label set, registering it (and its family) on first sight."""
        sid = self._by_labels.get(labels)
        if sid is not None:
            return sid
        sid = len(self.labels)
        self._by_labels[labels] = sid
        self.labels.append(labels)
        metric = next(v for k, v in labels if k == "__name__")
        fam = self._families.family(metric)
        fid = self._family_ids.get(fam)
        if fid is None:
            fid = self._family_ids[fam] = len(self.family_names)
            self.family_names.append(fam)
        self._family_of_series.append(fid)
        return sid

    def lookup(self, keys: list[bytes]) -> Int64Array:
        """Ids of raw series texts (each prefixed by a newline); -1 where the text is invalid."""
        n = len(keys)
        if n and keys[0] == keys[-1] and keys.count(keys[0]) == n:  # one series: a memcmp each
            return np.full(n, self._keys[keys[0]], dtype=np.int64)
        return np.fromiter(map(self._keys.__getitem__, keys), dtype=np.int64, count=n)

    def family_ids(self, ids: Int64Array) -> Int64Array:
        """Family id of each series id."""
        if len(self._family_arr) != len(self._family_of_series):
            self._family_arr = np.asarray(self._family_of_series, dtype=np.int64)
        return self._family_arr[ids]

    def family_of(self, sid: int) -> str:
        """Family name of one series id."""
        return self.family_names[self._family_of_series[sid]]

    def reset(self) -> None:
        """Forget every series (between chunks, to bound memory on huge inputs)."""
        self.__init__(self._families, self.openmetrics)  # type: ignore[misc]
