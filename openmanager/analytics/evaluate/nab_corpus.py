"""NAB corpus loading and the full procedure: sweep, optimise per profile, normalise."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from openmanager.analytics.evaluate.nab_scorer import (
    CostMatrix,
    SweptFile,
    best_threshold,
    score_at,
    score_by_threshold,
    sweep_file,
)


@dataclass(frozen=True)
class NabFile:
    """One data file: its relative path, timestamps, values and labelled windows."""

    path: str
    timestamps: NDArray[np.datetime64]
    values: NDArray[np.float64]
    windows: list[tuple[np.datetime64, np.datetime64]]


@dataclass(frozen=True)
class ProfileResult:
    """A detector's result for one profile: threshold, raw and normalised score, counts."""

    profile: str
    threshold: float
    raw: float
    normalised: float
    tp: int
    fp: int


def _ts(text: str) -> np.datetime64:
    return np.datetime64(text.strip().replace(" ", "T"), "us")


def load_corpus(root: Path) -> list[NabFile]:
    """Read every CSV under root/data with its windows from combined_windows.json."""
    windows = json.loads((root / "combined_windows.json").read_text())
    files = []
    for rel in sorted(windows):
        with (root / "data" / rel).open() as fh:
            rows = list(csv.reader(fh))[1:]
        ts = np.array([_ts(r[0]) for r in rows], dtype="datetime64[us]")
        vals = np.array([float(r[1]) for r in rows], dtype=np.float64)
        wins = [(_ts(a), _ts(b)) for a, b in windows[rel]]
        files.append(NabFile(rel, ts, vals, wins))
    return files


def load_profiles(root: Path) -> dict[str, CostMatrix]:
    """The cost matrices of profiles.json by profile name."""
    raw = json.loads((root / "profiles.json").read_text())
    return {name: CostMatrix.from_profile(p) for name, p in raw.items()}


def _sweep_all(
    corpus: list[NabFile], scores: list[NDArray[np.float64]], cost: CostMatrix
) -> list[SweptFile]:
    swept, next_id = [], 0
    for f, s in zip(corpus, scores, strict=True):
        swept.append(sweep_file(f.timestamps, s, f.windows, cost, first_window_id=next_id))
        next_id += len(f.windows)
    return swept


def raw_score(
    corpus: list[NabFile], scores: list[NDArray[np.float64]], cost: CostMatrix
) -> tuple[float, float, int, int]:
    """Optimise the threshold over the corpus, then sum per-file scores at it (NAB's runner)."""
    swept = _sweep_all(corpus, scores, cost)
    best = best_threshold(score_by_threshold(swept, cost))
    rows = [score_at(score_by_threshold([s], cost), best.threshold) for s in swept]
    return (
        best.threshold,
        sum(r.score for r in rows),
        sum(r.tp for r in rows),
        sum(r.fp for r in rows),
    )


def evaluate(
    corpus: list[NabFile],
    scores: list[NDArray[np.float64]],
    profiles: dict[str, CostMatrix],
) -> list[ProfileResult]:
    """NAB score per profile, normalised so the null detector is 0 and the perfect one 100."""
    n_windows = sum(len(f.windows) for f in corpus)
    null = [np.full(len(f.values), 0.5) for f in corpus]
    out = []
    for name, cost in profiles.items():
        _, base, _, _ = raw_score(corpus, null, cost)
        perfect = n_windows * cost.tp_weight
        thr, raw, tp, fp = raw_score(corpus, scores, cost)
        norm = 100.0 * (raw - base) / (perfect - base)
        out.append(ProfileResult(name, thr, raw, norm, tp, fp))
    return out


def perfect_scores(corpus: list[NabFile]) -> list[NDArray[np.float64]]:
    """Scores of NAB's perfect detector: 1 at the first row of every window, else 0."""
    out = []
    for f in corpus:
        s = np.zeros(len(f.values))
        for start, _ in f.windows:
            s[f.timestamps == start] = 1.0
        out.append(s)
    return out
