"""Counters never go down, except service counters at a restart the ground truth records."""

from __future__ import annotations

import numpy as np

from openmanager.config.settings import SimulatorSettings
from openmanager.simulate import Simulator
from openmanager.simulate.series import SERVICE_COUNTERS
from tests.simulate.signals import START, collect

HOUR = 3_600_000


def test_counters_only_reset_at_recorded_restarts() -> None:
    sim = Simulator(SimulatorSettings(seed=4, fault_rate_scale=40.0), start_ms=START)
    sim.trigger("service_crash", server="web-server-01", at_ms=START + HOUR)
    frame = collect(sim, START, START + 12 * HOUR, chunk_ms=HOUR + 45_000)
    t = frame.timestamps
    restarts: dict[str, list[int]] = {}
    for f in sim.ground_truth().faults:
        if f.restart_ms is not None:
            restarts.setdefault(f.root_server, []).append(f.restart_ms)
    assert sum(len(v) for v in restarts.values()) >= 2
    seen_resets = 0
    for block in sim.layout.blocks:
        if block.family.type not in ("counter", "histogram"):
            continue
        vals = frame.values[block.start : block.stop]
        drops = np.argwhere(np.diff(vals, axis=1) < 0)
        for row, col in drops.tolist():
            server = sim.fleet.servers[row % len(sim.fleet)].name
            lo, hi = t[col], t[col + 1]
            assert block.sample_name in SERVICE_COUNTERS, f"{block.sample_name} fell on {server}"
            assert any(lo < r <= hi for r in restarts.get(server, [])), (
                f"unrecorded reset on {server}"
            )
            seen_resets += 1
    assert seen_resets > 0


def test_service_down_and_restart_are_visible() -> None:
    sim = Simulator(SimulatorSettings(faults=False), start_ms=START)
    rec = sim.trigger("service_crash", server="cache-redis-01", at_ms=START + HOUR)
    assert rec.restart_ms is not None
    frame = collect(sim, START, START + 2 * HOUR)
    s = sim.fleet.get("cache-redis-01").index
    up = frame.values[sim.layout.row("openmanager_service_up", s)]
    t = frame.timestamps
    down = (t >= rec.start_ms) & (t < rec.restart_ms)
    assert down.any() and (up[down] == 0).all() and (up[~down] == 1).all()
    started = frame.values[sim.layout.row("process_start_time_seconds", s)]
    after = t >= rec.restart_ms
    assert (started[after] == round(rec.restart_ms / 1000, 2)).all()
    assert (started[~after] < rec.start_ms / 1000).all()
    count = frame.values[sim.layout.row("http_request_duration_seconds_count", s)]
    first = int(np.argmax(after))
    assert count[first] < count[first - 1] / 1000, "the counter restarts from zero"
