"""Score whole series (e.g. CSV files) by streaming them through one detector, all series as a batch."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from openmanager.analytics.detect.base import FloatArray
from openmanager.analytics.detect.registry import create


def replay(
    values: Sequence[FloatArray],
    timestamps: Sequence[FloatArray],
    detector: str = "ensemble",
    config: dict[str, Any] | None = None,
    chunk: int = 512,
    progress: Callable[[int], None] | None = None,
) -> list[FloatArray]:
    """Anomaly score of every row, each computed only from the rows before it (no look-ahead).

    Series of different lengths are padded with NaN (a gap, which detectors skip);
    ``progress`` receives the number of rows (over all series) scored after each chunk.
    """
    n = len(values)
    if n == 0:
        return []
    length = max(len(v) for v in values)
    vals = np.full((n, length), np.nan)
    stamps = np.full((n, length), np.nan)
    for i, (v, t) in enumerate(zip(values, timestamps, strict=True)):
        vals[i, : len(v)] = v
        stamps[i, : len(t)] = t
    det = create(detector, config, n_series=n)
    scores = np.zeros((n, length))
    lens = np.array([len(v) for v in values])
    for lo in range(0, length, chunk):
        hi = min(lo + chunk, length)
        scores[:, lo:hi] = det.update(vals[:, lo:hi], stamps[:, lo:hi])
        if progress is not None:
            progress(int(np.clip(lens - lo, 0, hi - lo).sum()))
    return [scores[i, : len(v)] for i, v in enumerate(values)]
