"""Detectors on the simulated fleet, scored against the simulator's ground truth.

Usage: python benchmarks/anomaly_simulator.py [--days 30] [--seed 1] [--step 60] [--threshold 0.65]
[--detector server_ensemble] [--settings JSON] [--no-faults] [--detail]
Per server it scores one signal per metric family (counters as rates, summed over the
server's series), streams them through the server ensemble (the anomaly service's default)
and groups consecutive flags into events (flags less than 15 minutes apart are one event). Each family is watched in the
direction that means trouble (CPU up, free memory/disk down, traffic both ways), traffic
rates in log space. Per scenario: recall (faults with an event on one of their servers between
start and end + grace), median time to detection; overall precision (events overlapping no
fault window on that server are false positives) and false events per series per day.
``--no-faults`` measures false alarms on fault-free data (e.g. ``--days 8``: a quiet week after
the day of history). ``--detail`` lists every fault (found or missed, the peak score of each
family on its root server) and every false event.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from openmanager.analytics.detect.registry import create, get
from openmanager.config.settings import SimulatorSettings
from openmanager.samples import labels_get
from openmanager.services.anomaly import THRESHOLD
from openmanager.simulate.faults import FaultRecord, iso
from openmanager.simulate.simulator import Simulator

T0 = 1_704_067_200_000
DAY_MS = 86_400_000
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


@dataclass
class Fleet:
    """The simulated signals: (server, family) keys, values (time, signal), times (ms), faults."""

    keys: list[tuple[str, str]]
    x: np.ndarray
    t: np.ndarray
    faults: list[FaultRecord]
    end: int


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


def simulate(seed: int, days: float, faults: bool = True, step: int = 60) -> Fleet:
    """Every signal of the simulated fleet over ``days`` from T0, sampled every ``step`` seconds."""
    sim = Simulator(SimulatorSettings(seed=seed, faults=faults), start_ms=T0)
    keys, agg = signals(sim)
    end = T0 + int(days * DAY_MS)
    xs, ts = [], []
    for frame in sim.frames(T0, end, step * 1000):
        xs.append(frame.values.T @ agg)  # (time, signals)
        ts.append(frame.timestamps)
    return Fleet(keys, np.concatenate(xs), np.concatenate(ts), sim.faults_between(T0, end), end)


def detect(
    fleet: Fleet, detector: str = "server_ensemble", settings: dict[str, Any] | None = None
) -> np.ndarray:
    """Scores (time, signal): one detector per kind of family, streamed one sample at a time."""
    group = np.array(
        [f"{fam.endswith('_total')}:{FAMILIES[fam]}:{fam in TRAFFIC}" for _, fam in fleet.keys]
    )
    fields = {f.name for f in dataclasses.fields(get(detector).config_class)}
    scores = np.zeros_like(fleet.x)
    ts = fleet.t / 1000.0
    for g in sorted(set(group)):
        conf: dict[str, Any] = {"counter": g.startswith("True")}
        if "direction" in fields:
            conf["direction"] = g.split(":")[1]
        if "log" in fields and g.endswith("True"):
            conf["log"] = True
        conf.update(settings or {})
        cols = group == g
        det = create(detector, conf, n_series=int(cols.sum()))
        scores[:, cols] = det.update(fleet.x[:, cols].T, ts).T
    return scores


def fault_windows(faults: list[FaultRecord]) -> dict[str, list[tuple[int, int]]]:
    """Per server, the (start, end + grace) of every fault touching it."""
    windows: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for f in faults:
        for srv in f.servers:
            windows[srv].append(
                (f.start_ms, max([f.end_ms, *(a.end_ms for a in f.affected)]) + GRACE_MS)
            )
    return windows


def events_of(fleet: Fleet, flag: np.ndarray) -> list[tuple[str, str, int]]:
    """(server, family, start ms) of every event after the first day (flags merged)."""
    warm = fleet.t >= T0 + DAY_MS  # the first day is history (detectors learn the daily pattern)
    events = []
    for j, (srv, fam) in enumerate(fleet.keys):
        on_t = fleet.t[flag[:, j] & warm]
        starts = on_t[np.concatenate(([True], np.diff(on_t) > MERGE_MS))] if len(on_t) else on_t
        events += [(srv, fam, int(ts)) for ts in starts]
    return events


def report(fleet: Fleet, scores: np.ndarray, threshold: float, detail: bool = False) -> None:
    """Print per-scenario recall and median TTD, precision and false events per signal per day."""
    events = events_of(fleet, scores >= threshold)
    windows = fault_windows(fleet.faults)
    fp = [e for e in events if not any(a <= e[2] <= b for a, b in windows[e[0]])]
    by_scn: dict[str, list[float | None]] = defaultdict(list)
    lines = []
    for f in fleet.faults:
        if f.start_ms < T0 + DAY_MS:
            continue
        hits = [
            e for e in events if e[0] in f.servers and f.start_ms <= e[2] <= f.end_ms + GRACE_MS
        ]
        first = min(hits, key=lambda e: e[2]) if hits else None
        by_scn[f.scenario].append((first[2] - f.start_ms) / 1000.0 if first else None)
        if detail:
            lines.append(_fault_line(fleet, scores, f, first))
    n_days = (fleet.end - T0 - DAY_MS) / DAY_MS
    print(f"{'scenario':24s} {'faults':>6s} {'recall':>7s} {'median TTD':>11s}")
    for scn, ttd in sorted(by_scn.items()):
        found = [x for x in ttd if x is not None]
        med = f"{np.median(found):.0f}s" if found else "-"
        print(f"{scn:24s} {len(ttd):6d} {len(found) / len(ttd):7.0%} {med:>11s}")
    precision = 1.0 - len(fp) / len(events) if events else float("nan")
    print(
        f"events {len(events)}, outside any fault window {len(fp)}: precision {precision:.1%}; "
        f"false events per signal per day {len(fp) / len(fleet.keys) / max(n_days, 1e-9):.3f}"
    )
    if detail:
        print("\n".join(lines))
        for srv, fam, ts in fp:
            j = fleet.keys.index((srv, fam))
            near = np.abs(fleet.t - ts) <= MERGE_MS
            print(f"false event {iso(ts)} {srv} {fam} peak {scores[near, j].max():.2f}")


def _fault_line(
    fleet: Fleet, scores: np.ndarray, f: FaultRecord, first: tuple[str, str, int] | None
) -> str:
    """One fault: found (when, where) or missed, and each root-server family's peak score."""
    during = (fleet.t >= f.start_ms) & (fleet.t <= f.end_ms + GRACE_MS)
    peaks = [
        f"{fam.removeprefix('node_')[:12]}={scores[during, j].max():.2f}"
        for j, (srv, fam) in enumerate(fleet.keys)
        if srv == f.root_server and during.any()
    ]
    dur = (f.end_ms - f.start_ms) / 60_000
    found = (
        f"TTD {(first[2] - f.start_ms) / 1000:.0f}s on {first[0]} {first[1]}" if first else "MISSED"
    )
    return f"{f.scenario:18s} {iso(f.start_ms)} {f.root_server:18s} {dur:5.0f}min {found}; {' '.join(peaks)}"


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
    ap.add_argument("--detail", action="store_true", help="list every fault and false event")
    args = ap.parse_args(argv)
    fleet = simulate(args.seed, args.days, not args.no_faults, args.step)
    t0 = time.perf_counter()
    scores = detect(fleet, args.detector, json.loads(args.settings) if args.settings else None)
    elapsed = time.perf_counter() - t0
    servers = len({s for s, _ in fleet.keys})
    print(
        f"{args.days:g} simulated days (seed {args.seed}), {len(fleet.keys)} signals ({servers} servers), "
        f"step {args.step}s, {scores.size / elapsed:,.0f} samples/s; threshold {args.threshold}; "
        "first day = history"
    )
    report(fleet, scores, args.threshold, args.detail)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
