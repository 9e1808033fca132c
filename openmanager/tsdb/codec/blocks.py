"""Fixed-size blocks of a residual stream: the unit at which the coders adapt their widths."""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

from openmanager.tsdb.codec._io import U64

BLOCK_LOG2 = 6
BLOCK = 1 << BLOCK_LOG2
"""Codes per adaptive block: small enough to follow the signal's changing scale."""

F64 = npt.NDArray[np.float64]


@functools.lru_cache(maxsize=256)
def _starts(n: int, block: int) -> npt.NDArray[np.intp]:
    starts = np.arange(0, n, block)
    starts.flags.writeable = False
    return starts


def block_sums(v: F64, block: int) -> F64:
    """Sum of each run of `block` values (the last run may be short)."""
    sums: F64 = np.add.reduceat(v, _starts(len(v), block)) if len(v) else v
    return sums


@functools.lru_cache(maxsize=256)
def block_counts(n: int, block: int) -> F64:
    """Length of each run of `block` values within n (cached, read-only)."""
    counts = np.full(-(-n // block), float(block))
    if len(counts):
        counts[-1] = n - (len(counts) - 1) * block
    counts.flags.writeable = False
    return counts


def estimate_bits(u: U64) -> float:
    """Rough coded size in bits (sum over blocks of count * log2(1 + mean)); ranks predictors."""
    counts = block_counts(len(u), BLOCK)
    means = block_sums(u.astype(np.float64), BLOCK) / counts
    return float((counts * np.log2(1.0 + means)).sum())
