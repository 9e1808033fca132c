"""Forecast accuracy: rolling-origin backtests of OpenManager's forecaster beside seasonal-naive
and statsforecast's AutoETS, on simulator history and NAB's real-world series, horizons 1h and 24h.

Reports MASE (scaled by the in-sample seasonal-naive error, daily season), coverage of the 80%
intervals, and fit time (OpenManager's includes its own backtest-based model choice).
The 1h horizon runs at the data's native step (5 min, or 1 h for realAdExchange); the 24h horizon
on hourly means, so that AutoETS can use its daily season (it refuses seasons longer than 24).

Usage: python benchmarks/forecast_accuracy.py [--origins 3] [--quick]
(needs the `bench` extra: pip install -e '.[bench]')
"""

from __future__ import annotations

import argparse
import csv
import time
import warnings
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from openmanager.analytics.forecast import Prepared, forecast_prepared
from openmanager.config.settings import SimulatorSettings
from openmanager.simulate.simulator import Simulator

F64 = NDArray[np.float64]
NAB = Path("/work/shared/datasets/nab-dev/data")
REAL_SETS = ("realAdExchange", "realTraffic", "realTweets")
HOUR = 3_600_000
DAY = 24 * HOUR
MAX_TRAIN_DAYS = 14
LEVEL = 80


@dataclass
class Series:
    """One series on a regular grid."""

    dataset: str
    name: str
    start_ms: int
    step_ms: int
    values: F64


def regular(ts: NDArray[np.int64], vs: F64, step: int) -> tuple[int, F64]:
    """Bucket means on a `step` grid, empty buckets linearly interpolated (same input for all)."""
    start = int(ts[0]) - int(ts[0]) % step
    idx = (ts - start) // step
    n = int(idx[-1]) + 1
    sums = np.bincount(idx, vs, n)
    counts = np.bincount(idx, None, n)
    have = counts > 0
    out = np.interp(np.arange(n), np.flatnonzero(have), sums[have] / counts[have])
    return start, out


def load_nab(category: str) -> list[Series]:
    out = []
    for path in sorted((NAB / category).glob("*.csv")):
        with path.open() as f:
            rows = list(csv.reader(f))[1:]
        ts = np.array(
            [int(datetime.fromisoformat(r[0]).replace(tzinfo=UTC).timestamp() * 1000) for r in rows]
        )
        vs = np.array([float(r[1]) for r in rows])
        med = int(np.median(np.diff(ts)))
        step = HOUR if med >= HOUR else 300_000
        start, values = regular(ts, vs, step)
        out.append(Series(category, path.stem, start, step, values))
    return out


def load_simulator(days: int = 21) -> list[Series]:
    """Gauges of a few servers from the default simulated fleet, 5-minute step."""
    sim = Simulator(SimulatorSettings(seed=7), start_ms=1_704_067_200_000)
    step = 300_000
    frames = list(sim.frames(sim.start_ms, sim.start_ms + days * DAY, step, chunk_ms=DAY))
    values = np.concatenate([f.values for f in frames], axis=1)
    picks = [
        ("node_load1", 0, 0), ("node_load1", 5, 0), ("node_memory_MemAvailable_bytes", 1, 0),
        ("node_memory_MemAvailable_bytes", 9, 0), ("node_filesystem_avail_bytes", 2, 1),
        ("http_requests_in_flight", 0, 0), ("http_requests_in_flight", 3, 0),
        ("node_procs_running", 4, 0),
    ]  # fmt: skip
    out = []
    for name, server, combo in picks:
        row = sim.layout.row(name, server, combo)
        out.append(
            Series("simulator", f"{name}@{sim.fleet.servers[server].name}", sim.start_ms, step,
                   values[row].astype(np.float64))
        )  # fmt: skip
    return out


def hourly(s: Series) -> Series:
    if s.step_ms == HOUR:
        return s
    k = HOUR // s.step_ms
    off = (-(s.start_ms % HOUR) // s.step_ms) % k
    v = s.values[off:]
    v = v[: len(v) // k * k].reshape(-1, k).mean(axis=1)
    return Series(s.dataset, s.name, s.start_ms + off * s.step_ms, HOUR, v)


@dataclass
class Score:
    mase: float
    coverage: float
    seconds: float


def mase_scale(train: F64, m: int) -> float:
    d = np.abs(train[m:] - train[:-m]) if len(train) > m else np.abs(np.diff(train))
    scale = float(np.mean(d))
    return scale if scale > 0 else float(np.mean(np.abs(np.diff(train)))) or 1.0


def run(origins: int, quick: bool) -> None:
    from statsforecast.models import AutoETS, SeasonalNaive

    sets: dict[str, list[Series]] = {"simulator": load_simulator(14 if quick else 21)}
    for cat in REAL_SETS:
        sets[cat] = load_nab(cat)[: 3 if quick else None]
    results: dict[tuple[str, str, str], list[Score]] = defaultdict(list)
    for horizon_name, horizon in (("1h", HOUR), ("24h", DAY)):
        for dname, series in sets.items():
            for s0 in series:
                s = s0 if horizon == HOUR else hourly(s0)
                h = horizon // s.step_ms
                m = DAY // s.step_ms
                y = s.values
                n = len(y)
                train_max = MAX_TRAIN_DAYS * DAY // s.step_ms
                first = int(n * 0.7)
                stride = max(h, (n - h - first) // max(origins, 1))
                for j in range(origins):
                    o = n - h - j * stride
                    if o < max(2 * m + h, first):
                        break
                    lo = max(0, o - train_max)
                    train, test = y[lo:o], y[o : o + h]
                    scale = mase_scale(train, m)
                    start = s.start_ms + lo * s.step_ms
                    t0 = time.perf_counter()
                    fc = forecast_prepared(Prepared(start, s.step_ms, train), horizon, level=0.8)
                    t_ours = time.perf_counter() - t0
                    results[(horizon_name, dname, "ours")].append(
                        _score(test, fc.mean, fc.lower, fc.upper, scale, t_ours)
                    )
                    sn = SeasonalNaive(season_length=m).fit(train).predict(h=h, level=[LEVEL])
                    results[(horizon_name, dname, "seasonal-naive")].append(
                        _score(test, sn["mean"], sn[f"lo-{LEVEL}"], sn[f"hi-{LEVEL}"], scale, 0.0)
                    )
                    t0 = time.perf_counter()
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        ets = AutoETS(season_length=m if m <= 24 else 1)
                        pe = ets.fit(train).predict(h=h, level=[LEVEL])
                    t_ets = time.perf_counter() - t0
                    results[(horizon_name, dname, "AutoETS")].append(
                        _score(test, pe["mean"], pe[f"lo-{LEVEL}"], pe[f"hi-{LEVEL}"], scale, t_ets)
                    )
            print(f"  done {horizon_name} {dname}", flush=True)
    report(results, list(sets))


def _score(test: F64, mean: F64, lo: F64, hi: F64, scale: float, seconds: float) -> Score:
    mase = float(np.mean(np.abs(test - mean)) / scale)
    cov = float(np.mean((test >= lo) & (test <= hi)))
    return Score(mase, cov, seconds)


def report(results: dict[tuple[str, str, str], list[Score]], datasets: list[str]) -> None:
    methods = ("ours", "seasonal-naive", "AutoETS")
    print("\n| horizon | data set | backtests | MASE ours | MASE s-naive | MASE AutoETS "
          "| 80% cov ours | s-naive | AutoETS | fit ours (ms) | fit AutoETS (ms) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    totals: dict[str, list[float]] = defaultdict(list)
    t_ours = t_ets = 0.0
    beat_naive = True
    for hz in ("1h", "24h"):
        for d in datasets:
            rows = {mt: results.get((hz, d, mt), []) for mt in methods}
            if not rows["ours"]:
                continue
            mase = {mt: float(np.mean([r.mase for r in rows[mt]])) for mt in methods}
            cov = {mt: float(np.mean([r.coverage for r in rows[mt]])) for mt in methods}
            fo = float(np.mean([r.seconds for r in rows["ours"]])) * 1000
            fe = float(np.mean([r.seconds for r in rows["AutoETS"]])) * 1000
            t_ours += sum(r.seconds for r in rows["ours"])
            t_ets += sum(r.seconds for r in rows["AutoETS"])
            for mt in methods:
                totals[mt].append(mase[mt])
            beat_naive &= mase["ours"] < mase["seasonal-naive"]
            print(f"| {hz} | {d} | {len(rows['ours'])} | {mase['ours']:.3f} | "
                  f"{mase['seasonal-naive']:.3f} | {mase['AutoETS']:.3f} | {cov['ours']:.0%} | "
                  f"{cov['seasonal-naive']:.0%} | {cov['AutoETS']:.0%} | {fo:.1f} | {fe:.1f} |")  # fmt: skip
    avg = {mt: float(np.mean(v)) for mt, v in totals.items()}
    print(f"\nmean MASE over data sets x horizons: ours {avg['ours']:.3f}, seasonal-naive "
          f"{avg['seasonal-naive']:.3f}, AutoETS {avg['AutoETS']:.3f}")  # fmt: skip
    print(f"fit time: ours {t_ours:.2f} s, AutoETS {t_ets:.2f} s, AutoETS/ours = "
          f"{t_ets / max(t_ours, 1e-9):.1f}x")  # fmt: skip
    print(f"targets: MASE < seasonal-naive on every data set/horizon: {beat_naive}; "
          f"mean MASE <= AutoETS: {avg['ours'] <= avg['AutoETS']}; "
          f"fit >= 10x faster: {t_ets >= 10 * t_ours}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--origins", type=int, default=3, help="rolling origins per series")
    ap.add_argument("--quick", action="store_true", help="3 series per NAB category")
    args = ap.parse_args()
    run(args.origins, args.quick)


if __name__ == "__main__":
    main()
