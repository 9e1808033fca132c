"""Same seed and range give identical samples and faults, however the range is chunked."""

from __future__ import annotations

import numpy as np
import pytest

from openmanager.catalog import family_of
from openmanager.config.settings import SimulatorSettings
from openmanager.errors import Conflict
from openmanager.simulate import Simulator
from tests.simulate.signals import START, collect

HOUR = 3_600_000
DAY = 24 * HOUR


def _busy_settings(seed: int = 11) -> SimulatorSettings:
    return SimulatorSettings(seed=seed, fault_rate_scale=30.0)


def test_one_day_in_one_call_equals_four_calls_of_six_hours() -> None:
    whole = Simulator(_busy_settings(), start_ms=START)
    one = collect(whole, START, START + DAY, chunk_ms=DAY)
    parts = Simulator(_busy_settings(), start_ms=START)
    pieces = [collect(parts, START + i * 6 * HOUR, START + (i + 1) * 6 * HOUR) for i in range(4)]
    assert np.array_equal(one.timestamps, np.concatenate([p.timestamps for p in pieces]))
    assert np.array_equal(one.values, np.concatenate([p.values for p in pieces], axis=1))
    assert whole.ground_truth().faults, "a busy day must contain faults for this test to mean much"
    assert whole.ground_truth().to_json() == parts.ground_truth().to_json()


def test_odd_chunk_sizes_and_single_ticks_agree() -> None:
    a = Simulator(_busy_settings(5), start_ms=START)
    b = Simulator(_busy_settings(5), start_ms=START)
    end = START + 40 * 60_000
    x = collect(a, START, end, chunk_ms=7 * 60_000 + 15_000)
    ticks = [b.tick(t) for t in range(START, end, 15_000)]
    y = np.stack([tb.values for tb in ticks], axis=1)
    assert np.array_equal(x.values, y)
    assert ticks[-1].series is b.series and len(ticks[-1]) == len(b.series)


def test_seeds_differ_and_batches_carry_catalogue_metadata() -> None:
    a = Simulator(SimulatorSettings(seed=1), start_ms=START).tick(START)
    b = Simulator(SimulatorSettings(seed=2), start_ms=START).tick(START)
    assert not np.array_equal(a.values, b.values)
    names = {dict(lbl)["__name__"] for lbl in a.series}
    for name in names:
        fam = family_of(name)
        assert fam is not None, f"{name} is not in the metric catalogue"
        assert fam.name in a.metadata and a.metadata[fam.name].help
    for lbl in a.series:
        assert {"instance", "job", "server", "environment", "role"} <= dict(lbl).keys()
    assert 45 <= len(a.series) / 20 <= 60
    assert not np.isnan(a.values).any(), "every series gets a value"


def test_time_cannot_go_backwards() -> None:
    sim = Simulator(SimulatorSettings(), start_ms=START)
    sim.tick(START + 15_000)
    with pytest.raises(Conflict):
        sim.tick(START + 15_000)


def test_values_have_realistic_precision() -> None:
    sim = Simulator(SimulatorSettings(), start_ms=START)
    frame = collect(sim, START, START + HOUR)
    for block in sim.layout.blocks:
        v = frame.values[block.start : block.stop]
        name = block.sample_name
        if name in ("node_cpu_seconds_total", "node_load1", "node_load5", "node_load15"):
            places = 2
        elif name in ("http_request_duration_seconds_sum", "node_disk_io_time_seconds_total"):
            places = 3
        elif name == "process_start_time_seconds":
            places = 2
        else:
            places = 0
        scaled = v * 10**places
        assert np.array_equal(np.rint(scaled) / 10**places, v), (
            f"{name} has more than {places} decimals"
        )


def test_advance_fills_the_interval_grid_up_to_now() -> None:
    live = Simulator(SimulatorSettings(seed=6), start_ms=START)
    assert [len(b) for b in live.advance(START - 1)] == []
    got = live.advance(START + 40_000)  # grid points START, +15 s, +30 s
    assert sorted({int(t) for b in got for t in b.timestamps}) == [
        START,
        START + 15_000,
        START + 30_000,
    ]
    assert live.advance(START + 44_999) == []
    later = live.advance(START + 61_000)
    assert sorted({int(t) for b in later for t in b.timestamps}) == [START + 45_000, START + 60_000]
    bulk = Simulator(SimulatorSettings(seed=6), start_ms=START)
    ref = collect(bulk, START, START + 75_000).values
    n = len(live.series)
    assert len(got) == 1 and len(later) == 1
    assert np.array_equal(got[0].values.reshape(n, 3), ref[:, :3])
    assert np.array_equal(later[0].values.reshape(n, 2), ref[:, 3:])
