"""Each fault scenario shows in the metrics the ground truth names, at the times it names."""

from __future__ import annotations

import json

import numpy as np
import pytest

from openmanager.config.settings import SimulatorSettings
from openmanager.errors import Conflict, InvalidInput, NotFound
from openmanager.simulate import SCENARIOS, GroundTruth, Simulator
from tests.simulate.signals import START, collect, signal

HOUR = 3_600_000


def _pair(servers: int = 20) -> tuple[Simulator, Simulator]:
    settings = SimulatorSettings(seed=7, servers=servers, faults=False)
    return Simulator(settings, start_ms=START), Simulator(settings, start_ms=START)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_scenario_shows_where_and_when_ground_truth_says(scenario: str) -> None:
    faulty, clean = _pair()
    at = START + 2 * HOUR
    rec = faulty.trigger(scenario, at_ms=at)
    end = rec.end_ms + 2 * HOUR
    f, c = collect(faulty, START, end), collect(clean, START, end)
    t = f.timestamps
    assert rec.start_ms == at and rec.affected and rec.end_ms > at
    assert rec.affected[0].server == rec.root_server
    for a in rec.affected:
        labels = dict(a.labels)
        sf, sc = (
            signal(faulty, f, a.server, a.metric, labels),
            signal(clean, c, a.server, a.metric, labels),
        )
        before = t < a.start_ms
        assert np.array_equal(sf[before], sc[before], equal_nan=True), (
            f"{a} deviates before its start"
        )
        span = a.end_ms - a.start_ms
        window = (t >= a.start_ms + span // 2) & (t < a.end_ms - span // 20)
        dev = np.nanmean(np.abs(sf[window] - sc[window])) / (np.nanmean(np.abs(sc[window])) + 1e-9)
        assert dev > 0.05, f"{a.metric} on {a.server} barely moves ({dev:.3f}) inside its window"
        if a.metric != "node_load1":  # load averages carry an hour of CPU history
            after = t >= a.end_ms + HOUR
            # counters carry a different total afterwards, so their increments differ by rounding
            assert np.allclose(sf[after], sc[after], rtol=1e-9, atol=1e-6, equal_nan=True), a


def test_named_cascades_follow_the_default_fleet() -> None:
    sim = Simulator(SimulatorSettings(faults=False), start_ms=START)
    paths = {
        "disk_full": ("db-primary-01", "web-server-01"),
        "memory_leak": ("api-gateway-01", "cache-redis-01"),
        "network_congestion": ("storage-nfs-01", "backup-server-01"),
    }
    for i, (name, (root, downstream)) in enumerate(paths.items()):
        rec = sim.trigger(name, at_ms=START + i * HOUR)
        assert rec.root_server == root
        assert downstream in rec.servers
        down = [a for a in rec.affected if a.server == downstream]
        root_start = min(a.start_ms for a in rec.affected if a.server == root)
        assert all(a.start_ms > root_start for a in down), "the cascade must lag its cause"
    leak = sim.ground_truth().faults
    assert [f.scenario for f in leak] == list(paths)


def test_scenarios_pick_servers_by_role_in_generated_fleets() -> None:
    sim = Simulator(SimulatorSettings(servers=12, faults=False), start_ms=START)
    assert not sim.fleet.has("api-gateway-01")
    rec = sim.trigger("memory_leak", at_ms=START)
    assert sim.fleet.get(rec.root_server).role == "gateway"
    big = Simulator(SimulatorSettings(servers=60, faults=False), start_ms=START)
    db = next(s for s in big.fleet if s.index >= 20 and s.role == "database")
    assert big.fleet.dependents(db.name), "generated servers declare dependencies too"
    disk = big.trigger("disk_full", server=db.name, at_ms=START)
    assert disk.root_server == db.name
    assert len(disk.servers) >= 2, "a generated database has dependents that feel it"


def test_trigger_validates_its_inputs() -> None:
    sim = Simulator(SimulatorSettings(faults=False), start_ms=START)
    with pytest.raises(InvalidInput, match="known: disk_full"):
        sim.trigger("meteor_strike")
    with pytest.raises(NotFound, match="no-such-server"):
        sim.trigger("cpu_spike", server="no-such-server")
    sim.tick(START + 60_000)
    with pytest.raises(Conflict):
        sim.trigger("cpu_spike", at_ms=START)
    rec = sim.trigger("cpu_spike")
    assert rec.start_ms > START + 60_000 and rec.source == "manual"


def test_scheduled_faults_follow_the_rate_and_export_as_json() -> None:
    settings = SimulatorSettings(seed=3, fault_rate_scale=100.0)
    sim = Simulator(settings, start_ms=START)
    for _ in sim.frames(START, START + 12 * HOUR):
        pass
    truth = sim.ground_truth()
    assert len(truth.faults) >= 10
    assert {f.scenario for f in truth.faults} == set(SCENARIOS)
    doc = json.loads(truth.to_json())
    assert doc["seed"] == 3 and len(doc["faults"]) == len(truth.faults)
    one = doc["faults"][0]
    assert {"id", "scenario", "root_cause", "start_ms", "end_ms", "affected"} <= set(one)
    assert one["description"] == SCENARIOS[one["scenario"]].description
    assert json.dumps([sc.to_dict() for sc in SCENARIOS.values()])
    assert {"server", "metric", "start_ms", "end_ms"} <= set(one["affected"][0])
    assert len({f["id"] for f in doc["faults"]}) == len(doc["faults"])
    assert GroundTruth.from_json(truth.to_json()) == truth
    quiet = Simulator(SimulatorSettings(seed=3, fault_rate_scale=0.0), start_ms=START)
    for _ in quiet.frames(START, START + 12 * HOUR):
        pass
    assert quiet.ground_truth().faults == ()
