"""Detectors on the simulated fleet, scored against the simulator's ground truth.

Usage: python benchmarks/anomaly_simulator.py [--days 30] [--seed 1] [--step 60] [--threshold 0.65]
[--detector server_ensemble] [--settings JSON] [--no-faults]
Per server it scores one signal per metric family (counters as rates, summed over the
server's series), streams them through the server ensemble (the anomaly service's default)
and groups consecutive flags into events (flags less than 15 minutes apart are one event). Each family is watched in the
direction that means trouble (CPU up, free memory/disk down, traffic both ways), traffic
rates in log space. Per scenario: recall (faults with an event on one of their servers between
start and end + grace), median time to detection; overall precision (events overlapping no
fault window on that server are false positives) and false events per series per day.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from collections import defaultdict

import numpy as np

from openmanager.analytics.detect.registry import create, get
from openmanager.config.settings import SimulatorSettings
from openmanager.samples import labels_get
from openmanager.services.anomaly import THRESHOLD
from openmanager.simulate.simulator import Simulator

T0 = 1_704_067_200_000
FAMILIES = {  # family -> the direction that means trouble (metric semantics, not ground truth)
    "node_cpu_seconds_total": "up",
    "node_load1": "up",
    "node_memory_MemAvailable_bytes": "down",
    "node_filesystem_avail_bytes": "down",
    "node_network_receive_bytes_total": "both",
    "node_network_transmit_bytes_total": "both",
    "http_requests_total": "both",
    "openmanager_service_up": "down",
}
TRAFFIC = {
    "node_network_receive_bytes_total",
    "node_network_transmit_bytes_total",
    "http_requests_total",
}
"""Rates whose noise and changes are relative: scored in log space (the ensemble's ``log``)."""
GRACE_MS = 15 * 60_000
MERGE_MS = 15 * 60_000
"""Flags closer than this are one event (what an operator sees as one incident)."""


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
    ap.add_argument("--days", type=float, default=30.0)
    ap.add_argument("--seed", type=int, default=1, help="simulator seed (fleet, noise, faults)")
    ap.add_argument("--step", type=int, default=60, help="seconds between samples")
    ap.add_argument("--threshold", type=float, default=THRESHOLD)
    ap.add_argument("--detector", default="server_ensemble")
    ap.add_argument("--settings", default=None, help="detector settings as JSON (every family)")
    ap.add_argument("--no-faults", action="store_true")
    args = ap.parse_args(argv)
    sim = Simulator(SimulatorSettings(seed=args.seed, faults=not args.no_faults), start_ms=T0)
    keys, agg = signals(sim)
    group = np.array(
        [f"{fam.endswith('_total')}:{FAMILIES[fam]}:{fam in TRAFFIC}" for _, fam in keys]
    )
    fields = {f.name for f in dataclasses.fields(get(args.detector).config_class)}
    dets = {}
    for g in sorted(set(group)):
        conf: dict[str, object] = {"counter": g.startswith("True")}
        if "direction" in fields:
            conf["direction"] = g.split(":")[1]
        if "log" in fields and g.endswith("True"):
            conf["log"] = True
        conf.update(json.loads(args.settings) if args.settings else {})
        dets[g] = create(args.detector, conf, n_series=int((group == g).sum()))
    end = T0 + int(args.days * 86_400_000)
    flags: list[np.ndarray] = []
    stamps: list[np.ndarray] = []
    t0 = time.perf_counter()
    for frame in sim.frames(T0, end, args.step * 1000):
        x = frame.values.T @ agg  # (time, signals)
        ts = frame.timestamps / 1000.0
        s = np.zeros_like(x)
        for g, det in dets.items():
            s[:, group == g] = det.update(x[:, group == g].T, ts).T
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
        on_t = t[flag[:, j] & warm]
        starts = on_t[np.concatenate(([True], np.diff(on_t) > MERGE_MS))] if len(on_t) else on_t
        events += [(srv, fam, int(ts)) for ts in starts]
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
        f"{args.days:g} simulated days (seed {args.seed}), {len(keys)} signals ({len(sim.fleet)} servers), step {args.step}s, "
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
