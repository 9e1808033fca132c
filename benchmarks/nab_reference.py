"""NAB's published windowedGaussian detector, re-implemented to validate our scorer."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

WINDOW = 6400
STEP = 100


def windowed_gaussian(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """1 - Q(|z|) of each value under the mean/std of NAB's sliding window (6400 rows, step 100)."""
    n = len(values)
    out = np.zeros(n)
    for i in range(1, n):
        if i <= WINDOW:
            lo, hi = 0, i
        else:
            k = (i - WINDOW) // STEP
            lo, hi = STEP * k, WINDOW + STEP * k
        w = values[lo:hi]
        mean, std = float(np.mean(w)), float(np.std(w))
        std = std if std != 0.0 else 1e-6
        z = abs(float(values[i]) - mean) / std
        out[i] = 1.0 - 0.5 * math.erfc(z / math.sqrt(2.0))
    return out
