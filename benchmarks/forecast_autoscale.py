"""Autoscaling in a closed loop over a simulated week (diurnal + weekday load with random bursts):
OpenManager's recommendations vs a reactive policy on the Kubernetes HPA formula.

Reports instance-hours (cost) and minutes above the latency objective (4x idle latency, M/M/1).
Usage: python benchmarks/forecast_autoscale.py [--days 7] [--seed 2]
"""

from __future__ import annotations

import argparse
import time

from openmanager.analytics.scale.closedloop import demand, run
from openmanager.analytics.scale.recommend import ScalePolicy

POLICY = ScalePolicy(
    min_replicas=2, max_replicas=60, max_step=6, cooldown_s=300,
    target_utilization=0.63, reactive_utilization=0.68, max_utilization=0.75,
)  # fmt: skip
"""max_utilization 0.75 is the objective itself (4x idle latency, M/M/1); the two utilisations
were chosen on seeds 1-5 together (a grid of a dozen settings), not on the default seed alone."""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--seed", type=int, default=2, help="load seed")
    args = ap.parse_args()
    load = demand(args.days, args.seed)
    print("| policy | instance-hours | minutes above objective | peak replicas | run time (s) |")
    print("|---|---|---|---|---|")
    for name in ("hpa", "ours"):
        t0 = time.perf_counter()
        r = run(name, load, policy=POLICY)
        label = "HPA (target 60%, 5 min down-stabilisation)" if name == "hpa" else "OpenManager"
        print(f"| {label} | {r.instance_hours:.1f} | {r.minutes_above_objective} | "
              f"{r.max_replicas} | {time.perf_counter() - t0:.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
