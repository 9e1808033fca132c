"""A small deterministic data set for comparing the engine with a real Prometheus.

Six hours of 15 s samples offset from the minute grid (t = 15 s * k + 3 s, jittered by up to
2 s), so that query steps at x:x7.5 s, ranges and offsets that are multiples of 15 s never put a
sample on a window boundary: Prometheus 2's closed windows and Prometheus 3's left-open ones
select the same samples. Counters (with a reset and a 12-minute gap), gauges (negative values,
one series that stops early), and a classic histogram (with `_sum` and `_count`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

T0_S = 1_704_067_200  # 2024-01-01T00:00:00Z
HOURS = 6
STEP_S = 15
INSTANCES = ("a", "b", "c")
BUCKETS = ("0.1", "0.5", "1", "+Inf")


def _times(rng: np.random.Generator, aligned: bool) -> np.ndarray:
    n = HOURS * 3600 // STEP_S
    jitter = rng.integers(-2000, 2001, size=n)
    if aligned:  # exactly on the 15 s grid: minute-aligned windows have samples on both edges
        return (T0_S * 1000 + np.arange(n) * STEP_S * 1000).astype(np.int64)
    return (T0_S * 1000 + np.arange(n) * STEP_S * 1000 + 3000 + jitter).astype(np.int64)


def _fmt_ts(ms: int) -> str:
    return f"{ms // 1000}.{ms % 1000:03d}"


def write_openmetrics(path: Path, seed: int = 7, *, aligned: bool = False) -> int:
    """Write the data set as OpenMetrics (what promtool and our backfill both read); samples.

    `aligned` puts every sample exactly on the 15 s grid (for Prometheus 2 window checks).
    """
    rng = np.random.default_rng(seed)

    def _times_(rng: np.random.Generator) -> np.ndarray:
        return _times(rng, aligned)

    families: list[tuple[str, str, list[tuple[str, np.ndarray, np.ndarray]]]] = []

    counters = []
    for inst in INSTANCES:
        for code in ("200", "500"):
            ts = _times_(rng)
            inc = rng.poisson(40 if code == "200" else 3, size=len(ts)).astype(float)
            vals = np.cumsum(inc)
            if inst == "b" and code == "200":  # a restart: the counter starts again near 0
                cut = len(ts) // 2
                vals[cut:] = np.cumsum(inc[cut:])
            if inst == "c" and code == "500":  # a 12-minute scrape gap
                keep = np.ones(len(ts), bool)
                keep[600:648] = False
                ts, vals = ts[keep], vals[keep]
            counters.append((f'instance="{inst}",code="{code}"', ts, vals))
    families.append(("cmp_requests", "counter", counters))

    gauges = []
    for inst in INSTANCES:
        ts = _times_(rng)
        vals = np.round(20 + np.cumsum(rng.normal(0, 0.5, len(ts))), 2)
        if inst == "c":  # stops after 4 h: gone from instant queries 5 min later
            ts, vals = ts[: len(ts) * 2 // 3], vals[: len(ts) * 2 // 3]
        gauges.append((f'instance="{inst}"', ts, vals))
        ts2 = _times_(rng)
        gauges.append(
            (f'instance="{inst}",kind="delta"', ts2, np.round(rng.normal(0, 3, len(ts2)), 1))
        )
    families.append(("cmp_temperature", "gauge", gauges))

    hist_lines: list[tuple[str, np.ndarray, np.ndarray]] = []
    for inst in INSTANCES:
        ts = _times_(rng)
        obs = rng.poisson(20, size=len(ts))
        lat = [rng.lognormal(-1.2, 0.8, size=k) for k in obs]
        counts = np.array([[np.sum(x <= float(b)) for b in BUCKETS] for x in lat], dtype=float)
        cum = np.cumsum(counts, axis=0)
        sums = np.round(np.cumsum([x.sum() for x in lat]), 3)
        for j, le in enumerate(BUCKETS):
            hist_lines.append((f'instance="{inst}",le="{le}"', ts, cum[:, j]))
        hist_lines.append((f'instance="{inst}"', ts, sums))
        hist_lines.append((f'instance="{inst}"', ts, cum[:, -1]))

    n = 0
    with path.open("w") as fh:
        for name, kind, series in families:
            fh.write(f"# TYPE {name} {kind}\n")
            suffix = "_total" if kind == "counter" else ""
            for labels, ts, vals in series:
                for t, v in zip(ts.tolist(), vals.tolist(), strict=True):
                    fh.write(f"{name}{suffix}{{{labels}}} {v!r} {_fmt_ts(t)}\n")
                    n += 1
        fh.write("# TYPE cmp_latency_seconds histogram\n")
        per_inst = len(BUCKETS) + 2
        for i, (labels, ts, vals) in enumerate(hist_lines):
            part = i % per_inst
            suffix = (
                "_bucket" if part < len(BUCKETS) else ("_sum" if part == len(BUCKETS) else "_count")
            )
            for t, v in zip(ts.tolist(), vals.tolist(), strict=True):
                fh.write(f"cmp_latency_seconds{suffix}{{{labels}}} {v!r} {_fmt_ts(t)}\n")
                n += 1
        fh.write("# EOF\n")
    return n
