"""NAB benchmark: OpenManager's score per profile beside the published detectors (same subset).

Usage: python benchmarks/nab.py [--detector adaptive] [--settings JSON] [--reference] [--data DIR]
(the same as `openmanager bench nab`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from openmanager.analytics.evaluate.nab_bench import (
    DEFAULT_DATA,
    PROFILES,
    SCOREBOARD,
    markdown,
    run,
)
from openmanager.analytics.evaluate.nab_corpus import evaluate, load_corpus, load_profiles


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--detector", default="adaptive")
    ap.add_argument("--settings", default=None, help="detector settings as JSON")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--reference", action="store_true", help="also score NAB's windowedGaussian")
    args = ap.parse_args(argv)
    res = run(args.data, args.detector, json.loads(args.settings) if args.settings else None)
    print(
        f"{res.detector}: {res.rows} rows in {res.seconds:.1f}s ({res.rows / res.seconds:,.0f}/s)"
    )
    for r in res.results:
        print(
            f"  {r.profile:20s} score {r.normalised:6.2f}  threshold {r.threshold:.4f}  "
            f"TP rows {r.tp}  FP rows {r.fp}  "
            f"artificialNoAnomaly false alarms/series/day {res.false_alarms[r.profile]:.3f}"
        )
    if args.reference:
        sys.path.insert(0, str(Path(__file__).parent))
        from nab_reference import windowed_gaussian

        corpus, profiles = load_corpus(args.data), load_profiles(args.data)
        ref = [np.array([float(f"{x:.12g}") for x in windowed_gaussian(f.values)]) for f in corpus]
        got = {r.profile: r.normalised for r in evaluate(corpus, ref, profiles)}
        print(
            "windowedGaussian re-implemented:",
            " / ".join(f"{got[p]:.2f}" for p in PROFILES),
            " scoreboard:",
            " / ".join(f"{v:.2f}" for v in SCOREBOARD["windowedGaussian"]),
        )
    print(markdown(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
