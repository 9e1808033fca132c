"""NAB benchmark: replay every file through a detector (all files as one batch), score per profile.

Usage: python benchmarks/nab.py [--detector ensemble] [--reference] [--data DIR]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from openmanager.analytics.detect.registry import create
from openmanager.analytics.evaluate.nab_corpus import (
    NabFile,
    ProfileResult,
    evaluate,
    load_corpus,
    load_profiles,
)

DATA = Path("/work/shared/datasets/nab-dev")
PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
SCOREBOARD = {
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


def replay(
    corpus: list[NabFile], detector: str, config: dict[str, Any] | None = None
) -> list[NDArray[np.float64]]:
    """Stream every file through one detector instance holding all files as series."""
    n, length = len(corpus), max(len(f.values) for f in corpus)
    values = np.full((n, length), np.nan)
    stamps = np.full((n, length), np.nan)
    for i, f in enumerate(corpus):
        values[i, : len(f.values)] = f.values
        stamps[i, : len(f.values)] = f.timestamps.astype("datetime64[s]").astype(np.float64)
    det = create(detector, config, n_series=n)
    scores = np.zeros((n, length))
    chunk = 512
    for lo in range(0, length, chunk):
        scores[:, lo : lo + chunk] = det.update(values[:, lo : lo + chunk], stamps[:, lo : lo + chunk])
    return [scores[i, : len(f.values)] for i, f in enumerate(corpus)]


def false_alarms_per_day(corpus: list[NabFile], scores: list[NDArray[np.float64]], thr: float) -> float:
    """Flags per series per day on artificialNoAnomaly at a threshold (after NAB's probation)."""
    rates = []
    for f, s in zip(corpus, scores, strict=True):
        if f.path.startswith("artificialNoAnomaly/"):
            start = int(0.15 * len(s))
            days = (f.timestamps[-1] - f.timestamps[start]) / np.timedelta64(1, "D")
            rates.append(float(np.sum(s[start:] >= thr)) / max(float(days), 1e-9))
    return float(np.mean(rates)) if rates else float("nan")


def table(name: str, results: list[ProfileResult]) -> str:
    """The scoreboard with our row inserted by standard score."""
    ours = {r.profile: r.normalised for r in results}
    rows = dict(SCOREBOARD)
    rows[f"**OpenManager {name}**"] = tuple(ours[p] for p in PROFILES)
    lines = ["| detector | standard | reward_low_FP | reward_low_FN |", "|---|---:|---:|---:|"]
    for label, vals in sorted(rows.items(), key=lambda kv: -kv[1][0]):
        lines.append(f"| {label} | " + " | ".join(f"{v:.2f}" for v in vals) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--detector", default="ensemble")
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--reference", action="store_true", help="also score NAB's windowedGaussian")
    args = ap.parse_args(argv)
    corpus, profiles = load_corpus(args.data), load_profiles(args.data)
    t0 = time.perf_counter()
    scores = replay(corpus, args.detector)
    elapsed = time.perf_counter() - t0
    results = evaluate(corpus, scores, profiles)
    n = sum(len(f.values) for f in corpus)
    print(f"{args.detector}: {n} samples in {elapsed:.1f}s ({n / elapsed:,.0f}/s), 34 files as one batch")
    for r in results:
        fa = false_alarms_per_day(corpus, scores, r.threshold)
        print(
            f"  {r.profile:20s} score {r.normalised:6.2f}  raw {r.raw:8.3f}  threshold {r.threshold:.6f}"
            f"  TP rows {r.tp}  FP rows {r.fp}  artificialNoAnomaly false alarms/series/day {fa:.3f}"
        )
    if args.reference:
        sys.path.insert(0, str(Path(__file__).parent))
        from nab_reference import windowed_gaussian

        ref = [np.array([float(f"{x:.12g}") for x in windowed_gaussian(f.values)]) for f in corpus]
        got = {r.profile: r.normalised for r in evaluate(corpus, ref, profiles)}
        print("windowedGaussian re-implemented:", " / ".join(f"{got[p]:.2f}" for p in PROFILES),
              " scoreboard:", " / ".join(f"{v:.2f}" for v in SCOREBOARD["windowedGaussian"]))
    print(table(args.detector, results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
