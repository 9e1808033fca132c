"""Failure-risk calibration against the simulator's ground truth: Brier score vs the base rate,
and a reliability diagram, out of sample (fit on the first half of the history, score the second).

A server is "in trouble" at t when a fault affects any of its metrics at t + LEAD.
Usage: python benchmarks/forecast_risk.py [--days 2] [--fault-scale 4]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from openmanager.analytics.risk.model import RiskModel
from openmanager.config.settings import SimulatorSettings, StorageSettings
from openmanager.services.query import QueryService
from openmanager.services.risk import RiskService
from openmanager.simulate.simulator import Simulator
from openmanager.tsdb.factory import open_storage

LEAD_MS = 15 * 60_000
STEP_MS = 5 * 60_000
WARMUP_MS = 6 * 3_600_000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--days", type=float, default=2.0)
    ap.add_argument("--fault-scale", type=float, default=4.0)
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()
    start = 1_704_067_200_000
    end = start + int(args.days * 86_400_000)
    settings = SimulatorSettings(seed=args.seed, fault_rate_scale=args.fault_scale)
    sim = Simulator(settings, start_ms=start)
    with tempfile.TemporaryDirectory() as tmp:
        storage = open_storage(StorageSettings(path=Path(tmp), wal_fsync=False))
        t0 = time.perf_counter()
        for batch in sim.generate(start, end, 60_000):
            storage.append(batch)
        print(
            f"simulated {args.days} d of {len(sim.fleet)} servers in {time.perf_counter() - t0:.0f} s"
        )
        svc = RiskService(QueryService(storage))
        t0 = time.perf_counter()
        names, steps, mats = svc.factor_matrix(start + WARMUP_MS, end - LEAD_MS, STEP_MS)
        print(f"factors over {len(steps)} steps in {time.perf_counter() - t0:.0f} s")
        storage.close()
    truth = sim.faults_between(start, end)
    labels = np.zeros((len(names), len(steps)), dtype=bool)
    index = {n: i for i, n in enumerate(names)}
    for f in truth:
        for a in f.affected:
            if a.server in index:
                hit = (steps + LEAD_MS >= a.start_ms) & (steps + LEAD_MS < a.end_ms)
                labels[index[a.server]] |= hit
    half = len(steps) // 2
    train = {k: v[:, :half].ravel() for k, v in mats.items()}
    test = {k: v[:, half:].ravel() for k, v in mats.items()}
    y_train, y_test = labels[:, :half].ravel(), labels[:, half:].ravel()
    print(f"{len(truth)} faults; positives: train {y_train.mean():.3f}, test {y_test.mean():.3f}")
    base = float(y_train.mean())
    fitted = RiskModel().fit(train, y_train)
    default = RiskModel()
    rows = [("base rate", np.full(len(y_test), base)), ("default weights", default.score(test)),
            ("fitted on first half", fitted.score(test))]  # fmt: skip
    print("\n| model | Brier (test half) | Brier skill vs base rate |")
    print("|---|---|---|")
    b0 = float(np.mean((rows[0][1] - y_test) ** 2))
    for name, p in rows:
        b = float(np.mean((p - y_test) ** 2))
        print(f"| {name} | {b:.4f} | {1 - b / b0:+.2f} |")
    p = fitted.score(test)
    print("\nreliability (fitted model, test half):\n| predicted | observed | n |\n|---|---|---|")
    bins = np.linspace(0, 1, 11)
    which = np.clip(np.digitize(p, bins) - 1, 0, 9)
    for b in range(10):
        sel = which == b
        if sel.any():
            print(f"| {p[sel].mean():.2f} | {y_test[sel].mean():.2f} | {int(sel.sum())} |")
    print("\nfitted weights:", {k: round(v, 2) for k, v in fitted.weights.items()},
          "bias", round(fitted.bias, 2))  # fmt: skip


if __name__ == "__main__":
    main()
