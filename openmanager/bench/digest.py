"""Order-independent digests of samples per series, to prove a load reads back bit for bit.

Each sample (timestamp, value bits) is mixed into a 64-bit hash; a series' digest is the count
and the wrapping sum of its hashes, so batches can arrive in any order and still compare equal.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from openmanager.samples import Float64Array, Int64Array, Labels, SampleBatch

U64 = npt.NDArray[np.uint64]
_K1 = np.uint64(0x9E3779B97F4A7C15)
_K2 = np.uint64(0xBF58476D1CE4E5B9)
_S31 = np.uint64(31)


def sample_hashes(ts: Int64Array, values: Float64Array) -> U64:
    """A 64-bit hash per (timestamp, float64 bit pattern) pair; NaN payloads are kept apart."""
    h: U64 = np.ascontiguousarray(ts, dtype=np.int64).view(np.uint64) * _K1
    h ^= np.ascontiguousarray(values, dtype=np.float64).view(np.uint64)
    h ^= h >> _S31
    h *= _K2
    h ^= h >> _S31
    return h


@dataclass
class SeriesDigests:
    """Count and hash sum per series; `seconds` is the time spent digesting."""

    counts: dict[Labels, int] = field(default_factory=dict)
    sums: dict[Labels, int] = field(default_factory=dict)
    seconds: float = 0.0

    def add(self, labels: Labels, ts: Int64Array, values: Float64Array) -> None:
        """Fold one series' samples in."""
        started = time.perf_counter()
        total = int(sample_hashes(ts, values).sum(dtype=np.uint64))
        self._fold(labels, len(ts), total)
        self.seconds += time.perf_counter() - started

    def add_batch(self, batch: SampleBatch) -> None:
        """Fold a whole batch in (vectorised: one reduction per batch, a dict hit per series)."""
        if not len(batch):
            return
        started = time.perf_counter()
        order = np.argsort(batch.series_ref, kind="stable")
        refs = batch.series_ref[order]
        h = sample_hashes(batch.timestamps[order], batch.values[order])
        starts = np.flatnonzero(np.concatenate([[True], refs[1:] != refs[:-1]]))
        sums = np.add.reduceat(h, starts, dtype=np.uint64)
        counts = np.diff(np.append(starts, len(refs)))
        for ref, n, s in zip(refs[starts].tolist(), counts.tolist(), sums.tolist(), strict=True):
            self._fold(batch.series[ref], n, s)
        self.seconds += time.perf_counter() - started

    def _fold(self, labels: Labels, n: int, total: int) -> None:
        self.counts[labels] = self.counts.get(labels, 0) + n
        self.sums[labels] = (self.sums.get(labels, 0) + total) & 0xFFFF_FFFF_FFFF_FFFF

    @property
    def samples(self) -> int:
        """Samples folded in, over all series."""
        return sum(self.counts.values())


@dataclass(frozen=True)
class DigestComparison:
    """How a read-back compares with what was written."""

    series_written: int
    series_read: int
    samples_written: int
    samples_read: int
    missing_series: int
    extra_series: int
    mismatched_series: int
    examples: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """Same series, same sample counts, same bits."""
        return not (self.missing_series or self.extra_series or self.mismatched_series)


def compare(written: SeriesDigests, read: SeriesDigests, max_examples: int = 5) -> DigestComparison:
    """Series missing, extra, or whose count or hash sum differs; a few named examples."""
    w, r = set(written.counts), set(read.counts)
    bad = [
        lbl
        for lbl in w & r
        if written.counts[lbl] != read.counts[lbl] or written.sums[lbl] != read.sums[lbl]
    ]
    examples: Iterable[str] = (
        [f"missing {lbl}" for lbl in sorted(w - r)]
        + [f"extra {lbl}" for lbl in sorted(r - w)]
        + [f"differs {lbl}: {written.counts[lbl]} vs {read.counts[lbl]} samples" for lbl in bad]
    )
    return DigestComparison(
        series_written=len(w),
        series_read=len(r),
        samples_written=written.samples,
        samples_read=read.samples,
        missing_series=len(w - r),
        extra_series=len(r - w),
        mismatched_series=len(bad),
        examples=tuple(list(examples)[:max_examples]),
    )
