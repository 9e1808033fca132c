"""The storage interface every consumer uses (PromQL, rules, analytics, API, CLI).

Two backends implement it: the embedded engine (`openmanager.tsdb.engine`) and the remote
backend that forwards to a Prometheus-compatible store (`openmanager.tsdb.remote`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from openmanager.samples import Float64Array, Int64Array, Labels, SampleBatch, SeriesMeta
from openmanager.tsdb.matchers import Matcher


@dataclass
class Series:
    """One series' samples in a time range, timestamps ascending (ms), values float64."""

    labels: Labels
    timestamps: Int64Array
    values: Float64Array


@dataclass
class AppendResult:
    """What happened to a batch: nothing is ever dropped without being counted here."""

    accepted: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    too_old: int = 0
    too_far_in_future: int = 0
    rejected_series: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        """Samples not stored (duplicates with the same value are not rejections)."""
        return self.out_of_order + self.too_old + self.too_far_in_future


@dataclass
class TierStats:
    """Size of one resolution tier."""

    name: str
    series: int
    samples: int
    bytes_on_disk: int
    min_time: int | None
    max_time: int | None


@dataclass
class StorageStats:
    """What is stored, overall and per tier."""

    series: int
    samples: int
    bytes_on_disk: int
    head_series: int
    head_samples: int
    tiers: list[TierStats] = field(default_factory=list)


class Storage(Protocol):
    """Append, select and describe series; implemented by every backend."""

    def append(self, batch: SampleBatch) -> AppendResult:
        """Store a batch durably; returns only once it would survive a crash."""
        ...

    def select(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[Series]:
        """Raw samples of every series matching all matchers, with start_ms <= t <= end_ms."""
        ...

    def series(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[Labels]:
        """Label sets of matching series that have samples in the range."""
        ...

    def label_names(
        self,
        matchers: Sequence[Matcher] = (),
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> list[str]:
        """Sorted label names, optionally restricted to matching series."""
        ...

    def label_values(
        self,
        name: str,
        matchers: Sequence[Matcher] = (),
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> list[str]:
        """Sorted values of one label, optionally restricted to matching series."""
        ...

    def metadata(self, metric: str | None = None) -> dict[str, SeriesMeta]:
        """Type, help and unit per metric family."""
        ...

    def delete_series(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> int:
        """Delete matching samples in the range; returns how many series were touched."""
        ...

    def stats(self) -> StorageStats:
        """Series, samples and bytes, overall and per tier."""
        ...

    def maintain(self) -> None:
        """Periodic housekeeping (compaction, downsampling, retention); a no-op where remote."""
        ...

    def close(self) -> None:
        """Flush and release files."""
        ...
