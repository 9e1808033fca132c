"""Resident memory per active series in the TSDB head, at 100k and 1M series.

Thin front end of `openmanager.bench.head_memory` (also run by `openmanager bench storage`):
each size runs in a fresh subprocess. Run: `python benchmarks/head_memory.py [--sizes 100000,...]`.
"""

from __future__ import annotations

import argparse

from openmanager.bench.head_memory import run_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--samples", type=int, default=4)
    args = parser.parse_args()
    rows = [run_size(int(s), args.samples) for s in args.sizes.split(",")]
    print(
        f"{'series':>10} {'samples/series':>14} {'RSS MiB':>9} {'B/series':>9} {'trimmed':>8} "
        f"{'of which samples':>16} {'append samples/s':>17}"
    )
    for r in rows:
        print(
            f"{r['series']:>10,} {r['samples_per_series']:>14} {r['rss_mib']:>9.1f} "
            f"{r['bytes_per_series']:>9.0f} {r['trimmed_bytes_per_series']:>8.0f} "
            f"{r['sample_arrays_per_series']:>16.0f} "
            f"{r['append_samples_per_s']:>17,.0f}"
        )


if __name__ == "__main__":
    main()
