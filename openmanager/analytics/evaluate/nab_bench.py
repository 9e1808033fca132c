"""The NAB benchmark: replay the corpus through a detector, score per profile beside the scoreboard."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from openmanager.analytics.detect.replay import replay
from openmanager.analytics.evaluate.nab_corpus import (
    NabFile,
    ProfileResult,
    evaluate,
    load_corpus,
    load_profiles,
)

DEFAULT_DATA = Path("/work/shared/datasets/nab-dev")
PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
# Published detectors on the dev subset (nab-dev/SCOREBOARD.md: NAB's result files, NAB's sweeper)
SCOREBOARD: dict[str, tuple[float, float, float]] = {
    "ARTime": (80.42, 71.61, 85.46),
    "contextOSE (CAD OSE)": (77.16, 74.90, 79.80),
    "numenta (HTM)": (72.76, 65.97, 76.87),
    "htmjava": (69.51, 62.09, 73.71),
    "numentaTM": (68.93, 63.46, 72.32),
    "earthgeckoSkyline": (65.41, 51.87, 71.46),
    "knncad": (60.40, 43.47, 67.63),
    "relativeEntropy": (58.05, 51.58, 62.08),
    "twitterADVec": (56.68, 40.69, 63.66),
    "randomCutForest": (52.41, 42.65, 60.92),
    "windowedGaussian": (50.87, 31.13, 59.02),
    "skyline (Etsy)": (36.84, 26.05, 48.44),
    "expose": (23.59, 11.64, 34.31),
    "random": (18.82, 10.36, 29.03),
    "bayesChangePt": (13.23, 6.53, 28.72),
    "null": (0.0, 0.0, 0.0),
}


@dataclass(frozen=True)
class NabRun:
    """One detector over the corpus: results per profile, rows, seconds, quiet-data false alarms."""

    detector: str
    results: list[ProfileResult]
    rows: int
    seconds: float
    false_alarms: dict[str, float]


def score_corpus(
    corpus: list[NabFile], detector: str, config: dict[str, Any] | None = None
) -> list[NDArray[np.float64]]:
    """Every file streamed through one detector instance (files are its series)."""
    stamps = [f.timestamps.astype("datetime64[s]").astype(np.float64) for f in corpus]
    return replay([f.values for f in corpus], stamps, detector, config)


def false_alarms_per_day(
    corpus: list[NabFile], scores: list[NDArray[np.float64]], threshold: float
) -> float:
    """Flags per series per day on artificialNoAnomaly at a threshold (after NAB's probation)."""
    rates = []
    for f, s in zip(corpus, scores, strict=True):
        if f.path.startswith("artificialNoAnomaly/"):
            start = int(0.15 * len(s))
            days = (f.timestamps[-1] - f.timestamps[start]) / np.timedelta64(1, "D")
            rates.append(float(np.sum(s[start:] >= threshold)) / max(float(days), 1e-9))
    return float(np.mean(rates)) if rates else float("nan")


def run(data: Path, detector: str = "adaptive", config: dict[str, Any] | None = None) -> NabRun:
    """Score the corpus under ``data`` and evaluate it per profile (threshold optimised per profile)."""
    corpus, profiles = load_corpus(data), load_profiles(data)
    t0 = time.perf_counter()
    scores = score_corpus(corpus, detector, config)
    seconds = time.perf_counter() - t0
    results = evaluate(corpus, scores, profiles)
    fa = {r.profile: false_alarms_per_day(corpus, scores, r.threshold) for r in results}
    return NabRun(detector, results, sum(len(f.values) for f in corpus), seconds, fa)


def table_rows(ours: NabRun) -> list[tuple[str, tuple[float, float, float]]]:
    """The scoreboard with our row inserted, sorted by standard score."""
    got = {r.profile: r.normalised for r in ours.results}
    rows = dict(SCOREBOARD)
    rows[f"OpenManager ({ours.detector})"] = (
        got[PROFILES[0]],
        got[PROFILES[1]],
        got[PROFILES[2]],
    )
    return sorted(rows.items(), key=lambda kv: -kv[1][0])


def markdown(ours: NabRun) -> str:
    """The table as Markdown."""
    lines = ["| detector | standard | reward_low_FP | reward_low_FN |", "|---|---:|---:|---:|"]
    for label, vals in table_rows(ours):
        lines.append(f"| {label} | " + " | ".join(f"{v:.2f}" for v in vals) + " |")
    return "\n".join(lines)
