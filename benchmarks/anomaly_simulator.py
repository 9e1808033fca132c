"""Detectors on the simulated fleet, scored against the simulator's ground truth.

Usage: python benchmarks/anomaly_simulator.py [--days 7] [--step 60] [--threshold 0.6] [--no-faults]
Per server it scores one signal per metric family (counters as rates, summed over the
server's series), streams them through the default ensemble, and groups consecutive flags
into events. Per scenario: recall (faults with an event on one of their servers between
start and end + grace), median time to detection; overall precision (events overlapping no
fault window on that server are false positives) and false events per series per day.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import numpy as np

from openmanager.analytics.detect.registry import create
from openmanager.config.settings import SimulatorSettings
from openmanager.samples import labels_get
from openmanager.simulate.simulator import Simulator

T0 = 1_704_067_200_000
FAMILIES = (
    "node_cpu_seconds_total",
    "node_load1",
    "node_memory_MemAvailable_bytes",
    "node_filesystem_avail_bytes",
    "node_network_receive_bytes_total",
    "node_network_transmit_bytes_total",
    "http_requests_total",
    "openmanager_service_up",
)
GRACE_MS = 15 * 60_000


def signals(sim: Simulator) -> tuple[list[tuple[str, str]], np.ndarray]:
    """(server, family) of each signal and the (n_series -> n_signals) summing matrix."""
    keys: list[tuple[str, str]] = []
    index: dict[tuple[str, str], int] = {}
    rows, cols = [], []
    for i, lab in enumerate(sim.series):
        fam = labels_get(lab, "__name__")
        if fam not in FAMILIES or (
            fam == "node_cpu_seconds_total" and labels_get(lab, "mode") == "idle"
        ):
            continue
        key = (labels_get(lab, "server"), fam)
        if key not in index:
            index[key] = len(keys)
            keys.append(key)
        rows.append(i)
        cols.append(index[key])
    m = np.zeros((len(sim.series), len(keys)))
    m[rows, cols] = 1.0
    return keys, m


def main(argv: list[str] | None = None) -> int:
    """Run the simulated period and print the per-scenario table."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--days", type=float, default=7.0)
    ap.add_argument("--step", type=int, default=60, help="seconds between samples")
    ap.add_argument("--threshold", type=float, default=0.6)
    ap.add_argument("--detector", default="ensemble")
    ap.add_argument("--no-faults", action="store_true")
    args = ap.parse_args(argv)
    sim = Simulator(SimulatorSettings(faults=not args.no_faults), start_ms=T0)
    keys, agg = signals(sim)
    counters = np.array([fam.endswith("_total") for _, fam in keys])
    dets = {
        c: create(args.detector, {"counter": bool(c)}, n_series=int((counters == c).sum()))
        for c in (False, True)
    }
    end = T0 + int(args.days * 86_400_000)
    flags: list[np.ndarray] = []
    stamps: list[np.ndarray] = []
    t0 = time.perf_counter()
    for frame in sim.frames(T0, end, args.step * 1000):
        x = frame.values.T @ agg  # (time, signals)
        ts = frame.timestamps / 1000.0
        s = np.zeros_like(x)
        for c, det in dets.items():
            s[:, counters == c] = det.update(x[:, counters == c].T, ts).T
        flags.append(s >= args.threshold)
        stamps.append(frame.timestamps)
    elapsed = time.perf_counter() - t0
    flag, t = np.concatenate(flags), np.concatenate(stamps)
    warm = t >= T0 + 86_400_000  # the first day is history (detectors learn the daily pattern)
    faults = sim.faults_between(T0, end)
    windows: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for f in faults:
        for srv in f.servers:
            windows[srv].append(
                (f.start_ms, max([f.end_ms, *(a.end_ms for a in f.affected)]) + GRACE_MS)
            )
    events = []  # (server, family, start_ms)
    for j, (srv, fam) in enumerate(keys):
        on = flag[:, j] & warm
        starts = np.flatnonzero(on & ~np.concatenate(([False], on[:-1])))
        events += [(srv, fam, int(t[i])) for i in starts]
    fp = [e for e in events if not any(a <= e[2] <= b for a, b in windows[e[0]])]
    by_scn: dict[str, list[float | None]] = defaultdict(list)
    for f in faults:
        if f.start_ms < T0 + 86_400_000:
            continue
        hits = [
            e[2] for e in events if e[0] in f.servers and f.start_ms <= e[2] <= f.end_ms + GRACE_MS
        ]
        by_scn[f.scenario].append((min(hits) - f.start_ms) / 1000.0 if hits else None)
    n_days = (end - T0 - 86_400_000) / 86_400_000
    print(
        f"{args.days:g} simulated days, {len(keys)} signals ({len(sim.fleet)} servers), step {args.step}s, "
        f"{flag.size / elapsed:,.0f} samples/s; threshold {args.threshold}; first day = history"
    )
    print(f"{'scenario':24s} {'faults':>6s} {'recall':>7s} {'median TTD':>11s}")
    for scn, ttd in sorted(by_scn.items()):
        found = [x for x in ttd if x is not None]
        med = f"{np.median(found):.0f}s" if found else "-"
        print(f"{scn:24s} {len(ttd):6d} {len(found) / len(ttd):7.0%} {med:>11s}")
    precision = 1.0 - len(fp) / len(events) if events else float("nan")
    print(
        f"events {len(events)}, outside any fault window {len(fp)}: precision {precision:.1%}; "
        f"false events per signal per day {len(fp) / len(keys) / max(n_days, 1e-9):.3f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
