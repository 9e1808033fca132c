"""Accurate window sums from shared segments: each sample is read once, never gathered per window.

The bounds of all windows cut the samples into segments. Every segment is summed once, error
free: each value is split at a power of two (Rump's extraction) so that the high parts add
exactly and only the tiny low parts round. A window then adds its few segment sums in
double-double arithmetic, so its sum is the correctly rounded one to within an ulp or so, as
Prometheus's Kahan-summed loop gives, at a cost linear in samples plus windows x segments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from openmanager.samples import Float64Array, Int64Array

_SPLITTER = 134217729.0  # 2**27 + 1: Veltkamp's constant for float64


def two_sum(a: Float64Array, b: Float64Array) -> tuple[Float64Array, Float64Array]:
    """s + e == a + b exactly, s the rounded sum (Knuth's branch-free TwoSum)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def two_prod(a: Float64Array, b: Float64Array) -> tuple[Float64Array, Float64Array]:
    """p + e == a * b exactly, p the rounded product (Dekker's TwoProduct; |a|, |b| < 1e290)."""
    p = a * b
    ca = _SPLITTER * a
    ah = ca - (ca - a)
    al = a - ah
    cb = _SPLITTER * b
    bh = cb - (cb - b)
    bl = b - bh
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


@dataclass(frozen=True)
class Segments:
    """The segments [bounds[k], bounds[k+1]) that the windows [lo, hi) are made of.

    Each array indexed by segment has one extra, empty segment at the end that windows with
    fewer segments point at, so the per-window loop needs no masks.
    """

    bounds: Int64Array
    first: Int64Array
    """Per window, its first segment."""
    count: Int64Array
    """Per window, how many segments it spans (0 for empty windows)."""
    length: Int64Array
    """Samples per segment."""

    @classmethod
    def of(cls, lo: Int64Array, hi: Int64Array) -> Segments:
        """Cut at every window bound; windows must be sorted runs of one flat sample array."""
        live = hi > lo
        # Bounds come as a few sorted runs, which a stable sort merges in linear time.
        cuts = np.sort(np.concatenate((lo[live], hi[live])), kind="stable")
        bounds = cuts[np.concatenate(([True], cuts[1:] != cuts[:-1]))] if len(cuts) else cuts
        first = np.searchsorted(bounds, lo)
        count = np.where(live, np.searchsorted(bounds, hi) - first, 0)
        length = np.concatenate((np.diff(bounds), [0])) if len(bounds) else np.zeros(1, np.int64)
        return cls(bounds, first, count, length.astype(np.int64))

    @property
    def span(self) -> tuple[int, int]:
        """The sample range [start, end) the segments cover."""
        if len(self.bounds) < 2:
            return 0, 0
        return int(self.bounds[0]), int(self.bounds[-1])

    def int_sums(self, column: Int64Array) -> Int64Array:
        """Exact per-segment sums of an integer column over span(), plus the empty segment's 0."""
        out = np.zeros(len(self.length), dtype=np.int64)
        if len(self.bounds) >= 2:
            out[:-1] = np.add.reduceat(column, self.bounds[:-1] - self.bounds[0])
        return out

    def exact_sums(self, column: Float64Array) -> tuple[Float64Array, Float64Array]:
        """Per segment, a high and a low part whose sum is the segment's sum of `column` (finite
        values over span()) with an error far below an ulp of the sum's magnitude."""
        if len(self.bounds) < 2:
            return np.zeros(1), np.zeros(1)
        starts = self.bounds[:-1] - self.bounds[0]
        biggest = np.maximum.reduceat(np.abs(column), starts)
        # sigma = 2^e > 2 * length * max|value|: high parts are multiples of ulp(sigma) / 2 and
        # their partial sums stay below sigma, so every addition of them is exact.
        _, expo = np.frexp(2.0 * self.length[:-1] * biggest)
        sigma = np.repeat(np.ldexp(1.0, expo), self.length[:-1])
        high = (sigma + column) - sigma
        low = column - high
        zero = np.zeros(1)
        return (
            np.concatenate((np.add.reduceat(high, starts), zero)),
            np.concatenate((np.add.reduceat(low, starts), zero)),
        )
