"""Theil-Sen robust linear trend: the median of pairwise slopes, with Sen's confidence interval.

Outliers (a spike, a cleanup) barely move it, which is what a disk-fill estimate needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from openmanager.samples import Float64Array

MAX_PAIRS = 20_000
"""Pairwise slopes sampled (deterministically) on long series; the median is stable well before."""


@dataclass(frozen=True)
class Line:
    """y = intercept + slope * i (i = point index), with slope bounds at `level` confidence."""

    intercept: float
    slope: float
    slope_lo: float
    slope_hi: float


def theil_sen(y: Float64Array, level: float = 0.8) -> Line:
    """Fit the robust line through y at indices 0..n-1."""
    n = len(y)
    total = n * (n - 1) // 2
    if total <= MAX_PAIRS:
        i, j = np.triu_indices(n, k=1)
    else:
        rng = np.random.default_rng(0)
        i = rng.integers(0, n, MAX_PAIRS)
        j = rng.integers(0, n, MAX_PAIRS)
        keep = i != j
        i, j = np.minimum(i[keep], j[keep]), np.maximum(i[keep], j[keep])
    slopes = (y[j] - y[i]) / (j - i)
    slope = float(np.median(slopes))
    # Sen (1968): ranks (N -/+ C)/2 of the sorted slopes bound the slope, C from Kendall's S variance
    c = float(norm.ppf((1 + level) / 2)) * np.sqrt(n * (n - 1) * (2 * n + 5) / 18)
    lo_q = float(np.clip((total - c) / (2 * total), 0.0, 1.0))
    hi_q = float(np.clip((total + c) / (2 * total), 0.0, 1.0))
    lo, hi = np.quantile(slopes, [lo_q, hi_q])
    intercept = float(np.median(y - slope * np.arange(n)))
    return Line(intercept, slope, float(lo), float(hi))
