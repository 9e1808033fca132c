"""NAB's sweeper scorer (windows, probation, scaled sigmoid, threshold sweep), vectorised."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from openmanager.errors import InvalidInput

PROBATION_PERCENT = 0.15
_NO_WINDOW = -1
_PROBATION = -2


@dataclass(frozen=True)
class CostMatrix:
    """One NAB application profile: weights of true positives, false positives, misses."""

    tp_weight: float
    fp_weight: float
    fn_weight: float

    @classmethod
    def from_profile(cls, profile: dict[str, dict[str, float]]) -> CostMatrix:
        """Read a profiles.json entry (``{"CostMatrix": {...}}``)."""
        cm = profile["CostMatrix"]
        return cls(float(cm["tpWeight"]), float(cm["fpWeight"]), float(cm["fnWeight"]))


@dataclass(frozen=True)
class SweptFile:
    """Per-row sweep scores and window ids of one file (window ids are corpus-global)."""

    scores: NDArray[np.float64]
    sweep: NDArray[np.float64]
    window: NDArray[np.int64]


@dataclass(frozen=True)
class ThresholdRow:
    """Score of the corpus (or a file) when every point with score >= threshold is flagged."""

    threshold: float
    score: float
    tp: int
    fp: int


def scaled_sigmoid(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """NAB's scaled sigmoid: 2*sigmoid(-5x) - 1, and -1 from x >= 3 on."""
    with np.errstate(over="ignore"):
        y = 2.0 / (1.0 + np.exp(5.0 * x)) - 1.0
    return np.where(x >= 3.0, -1.0, y)


def probation_length(n_rows: int, percent: float = PROBATION_PERCENT) -> float:
    """NAB's probationary period: min(floor(p * n), p * 5000) rows."""
    return min(math.floor(percent * n_rows), percent * 5000)


def sweep_file(
    timestamps: NDArray[np.datetime64],
    scores: NDArray[np.float64],
    windows: list[tuple[np.datetime64, np.datetime64]],
    cost: CostMatrix,
    first_window_id: int = 0,
    probation_percent: float = PROBATION_PERCENT,
) -> SweptFile:
    """Weighted score of each row as if flagged (Sweeper.calcSweepScore, same edge cases)."""
    n = len(timestamps)
    if len(scores) != n:
        raise InvalidInput("timestamps and anomaly scores differ in length")
    idx = np.arange(n, dtype=np.float64)
    window = np.full(n, _NO_WINDOW, dtype=np.int64)
    sweep = np.empty(n, dtype=np.float64)
    max_tp = float(scaled_sigmoid(np.array([-1.0]))[0])
    prev_right: int | None = None
    prev_width = 0.0
    pos = 0
    for k, (start, end) in enumerate(windows):
        # NAB enters a window only on an exact timestamp match of its start, at or after pos
        hits = np.flatnonzero(timestamps[pos:] == start)
        ends = np.flatnonzero(timestamps == end)
        if len(hits) == 0 or len(ends) == 0:
            break  # NAB never enters this window, nor any after it
        left, right = pos + int(hits[0]), int(ends[0])
        width = float(right - left + 1)
        _outside(sweep, idx, pos, left, prev_right, prev_width, cost)
        inside = scaled_sigmoid(-(right - idx[left : right + 1] + 1) / width)
        sweep[left : right + 1] = inside * cost.tp_weight / max_tp
        window[left : right + 1] = first_window_id + k
        prev_right, prev_width, pos = right, width, right + 1
    _outside(sweep, idx, pos, n, prev_right, prev_width, cost)
    window[: int(math.ceil(probation_length(n, probation_percent)))] = _PROBATION
    return SweptFile(np.asarray(scores, dtype=np.float64), sweep, window)


def _outside(
    sweep: NDArray[np.float64],
    idx: NDArray[np.float64],
    lo: int,
    hi: int,
    prev_right: int | None,
    prev_width: float,
    cost: CostMatrix,
) -> None:
    """False-positive weights of rows lo..hi-1 that follow the window ending at prev_right."""
    if hi <= lo:
        return
    if prev_right is None:
        sweep[lo:hi] = -cost.fp_weight
        return
    with np.errstate(divide="ignore", invalid="ignore"):
        past = np.abs(prev_right - idx[lo:hi]) / (prev_width - 1.0)
    sweep[lo:hi] = scaled_sigmoid(past) * cost.fp_weight


def score_by_threshold(files: list[SweptFile], cost: CostMatrix) -> list[ThresholdRow]:
    """Score at every distinct threshold, highest first (Sweeper.calcScoreByThreshold)."""
    scores = np.concatenate([f.scores for f in files]) if files else np.empty(0)
    sweep = np.concatenate([f.sweep for f in files]) if files else np.empty(0)
    window = np.concatenate([f.window for f in files]) if files else np.empty(0, np.int64)
    keep = window != _PROBATION
    scores, sweep, window = scores[keep], sweep[keep], window[keep]
    order = np.argsort(-scores, kind="stable")
    scores, sweep, window = scores[order], sweep[order], window[order]
    in_win = window >= 0
    delta = np.where(in_win, 0.0, sweep)
    # a window contributes the best (earliest) flagged point, or -fn_weight while none is flagged
    win_ids = np.unique(window[in_win])
    for w in win_ids:
        at = np.flatnonzero(window == w)
        best = np.maximum.accumulate(np.maximum(sweep[at], -cost.fn_weight))
        prev = np.concatenate(([-cost.fn_weight], best[:-1]))
        delta[at] = best - prev
    base = -cost.fn_weight * len(win_ids)
    total = base + np.cumsum(delta)
    tp, fp = np.cumsum(in_win), np.cumsum(~in_win)
    rows = [ThresholdRow(1.1, base, 0, 0)]
    if len(scores):
        last = np.flatnonzero(np.append(scores[1:] != scores[:-1], True))
        rows += [
            ThresholdRow(float(scores[i]), float(total[i]), int(tp[i]), int(fp[i])) for i in last
        ]
    return rows


def best_threshold(rows: list[ThresholdRow]) -> ThresholdRow:
    """The highest-scoring row; on ties the highest threshold (NAB's stable sort)."""
    best = rows[0]
    for row in rows[1:]:
        if row.score > best.score:
            best = row
    return best


def score_at(rows: list[ThresholdRow], threshold: float) -> ThresholdRow:
    """Row that applies at ``threshold`` (Sweeper.scoreDataSet's matching row)."""
    prev = rows[0]
    for row in rows:
        if row.threshold == threshold:
            return row
        if row.threshold < threshold:
            return prev
        prev = row
    # NAB returns None when every score of a file is above the threshold; all rows are flagged
    return prev
