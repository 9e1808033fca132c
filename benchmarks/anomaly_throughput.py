"""Streaming throughput of the detectors for many series, and false alarms on quiet NAB data.

Usage: python benchmarks/anomaly_throughput.py [--series 10000] [--steps 200] [--detectors ...]
Prints samples scored per second (one update call per timestamp, all series at once: the
streaming hot path) and flags per series per day on artificialNoAnomaly at score >= 0.5.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from openmanager.analytics.detect.registry import create
from openmanager.analytics.evaluate.nab_bench import (
    DEFAULT_DATA,
    false_alarms_per_day,
    score_corpus,
)
from openmanager.analytics.evaluate.nab_corpus import load_corpus


def throughput(name: str, n_series: int, steps: int, warm: int = 64) -> float:
    """Samples per second of ``update`` called once per timestamp with every series."""
    rng = np.random.default_rng(0)
    det = create(name, None, n_series=n_series)
    x = rng.normal(100.0, 5.0, (n_series, warm + steps))
    t = np.arange(warm + steps) * 15.0
    det.update(x[:, :warm], t[:warm])
    t0 = time.perf_counter()
    for j in range(warm, warm + steps):
        det.update(x[:, j], t[j])
    return n_series * steps / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    """Print throughput per detector and quiet-data false alarms."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--series", type=int, default=10_000)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument(
        "--detectors",
        nargs="+",
        default=["robust_z", "iqr", "seasonal", "cusum", "ensemble", "adaptive"],
    )
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--threshold", type=float, default=0.5)
    args = ap.parse_args(argv)
    print(f"streaming throughput, {args.series} series, {args.steps} timestamps")
    for name in args.detectors:
        rate = throughput(name, args.series, args.steps)
        print(f"  {name:18s} {rate / 1e6:7.2f} M samples/s")
    quiet = [f for f in load_corpus(args.data) if f.path.startswith("artificialNoAnomaly/")]
    print(f"false alarms on artificialNoAnomaly ({len(quiet)} series), score >= {args.threshold}")
    for name in args.detectors:
        scores = score_corpus(quiet, name)
        fa = false_alarms_per_day(quiet, scores, args.threshold)
        print(f"  {name:18s} {fa:.3f} per series per day")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
