"""Resident memory per active series in the TSDB head (the curve at 100k and 1M series).

Each size runs in a fresh subprocess (`python -m openmanager.bench.head_memory --child N`):
RSS is read after imports (baseline) and after every series received a few samples in
scrape-shaped batches (all series at one timestamp), so the difference is what the head holds.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import subprocess
import sys
import time
from typing import Any

METRICS = 50
SERIES_PER_HOST = 250
CHUNK = 100_000


def _labels(i: int) -> tuple[tuple[str, str], ...]:
    """Node-exporter-like labels: a metric name, a host, a job and one per-series label."""
    host = i // SERIES_PER_HOST
    return (
        ("__name__", f"node_metric_{i % METRICS}_total"),
        ("device", f"dev{(i // METRICS) % (SERIES_PER_HOST // METRICS)}"),
        ("instance", f"host-{host:06d}:9100"),
        ("job", "node"),
        ("region", f"r{host % 7}"),
    )


def _malloc_trim() -> None:
    """Hand freed heap pages back to the OS (glibc), so RSS shows what is still in use."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def measure(n: int, samples: int) -> dict[str, float]:
    """Build a head of n series with `samples` samples each; report RSS growth per series."""
    import numpy as np
    import psutil

    from openmanager.samples import SampleBatch
    from openmanager.tsdb.head import Head

    proc = psutil.Process()
    gc.collect()
    base = proc.memory_info().rss
    head = Head(ooo_window_ms=600_000, future_tolerance_ms=600_000)
    t0 = 1_700_000_000_000
    started = time.perf_counter()
    append_s = 0.0
    for k in range(samples):
        for lo in range(0, n, CHUNK):
            hi = min(lo + CHUNK, n)
            series = [_labels(i) for i in range(lo, hi)]
            batch = SampleBatch(
                series,
                np.arange(hi - lo, dtype=np.int64),
                np.full(hi - lo, t0 + k * 15_000, dtype=np.int64),
                np.random.default_rng(k).random(hi - lo),
            )
            a = time.perf_counter()
            plan = head.prepare(batch, t0 + k * 15_000)
            head.commit(plan)
            append_s += time.perf_counter() - a
            if plan.result.accepted != hi - lo:
                raise RuntimeError(f"unexpected append result {plan.result}")
            del series, batch, plan
    gc.collect()
    rss = proc.memory_info().rss - base
    _malloc_trim()
    trimmed = proc.memory_info().rss - base
    return {
        "series": n,
        "samples_per_series": samples,
        "rss_mib": rss / 2**20,
        "bytes_per_series": rss / n,
        "trimmed_bytes_per_series": trimmed / n,
        "sample_arrays_per_series": head.columns.nbytes / n,
        "append_samples_per_s": n * samples / append_s,
        "build_s": time.perf_counter() - started,
    }


def run_size(n: int, samples: int = 4, timeout_s: float = 1800.0) -> dict[str, Any]:
    """Measure one head size in a fresh interpreter; the child's JSON figures."""
    out = subprocess.run(
        [sys.executable, "-m", "openmanager.bench.head_memory", "--child", str(n)]
        + ["--samples", str(samples)],
        check=True,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    """Child entry point: measure one size and print its figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--child", type=int, required=True)
    parser.add_argument("--samples", type=int, default=4)
    args = parser.parse_args()
    print(json.dumps(measure(args.child, args.samples)))


if __name__ == "__main__":
    main()
