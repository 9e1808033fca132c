"""Root-cause ranking: change points, topology, ranking a simulated fault, the benchmark code."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from openmanager.analytics.evaluate.rca_bench import run, run_trial
from openmanager.analytics.rca import Topology, rank_causes
from openmanager.analytics.rca.changes import find_changes
from openmanager.analytics.rca.incident import Event
from openmanager.analytics.rca.observe import Window
from openmanager.api.app import create_app
from openmanager.cli.main import app as cli_app
from openmanager.config import load_settings
from openmanager.config.settings import SimulatorSettings, StorageSettings
from openmanager.services.platform import Platform
from openmanager.services.query import QueryService
from openmanager.simulate.simulator import Simulator
from openmanager.tsdb.factory import open_storage

MIN = 60_000
DAY = 1440 * MIN


def test_change_point_onset_and_size_of_a_step() -> None:
    rng = np.random.default_rng(3)
    times = np.arange(0, 200 * MIN, MIN, dtype=np.int64)
    flat = 10 + rng.normal(0, 0.1, 200)
    step = flat.copy()
    step[150:] += 3.0  # 30 sigmas from minute 150
    quiet, moved = find_changes(times, np.vstack([flat, step]), 120 * MIN)
    assert not quiet.changed
    assert moved.onset_ms == 150 * MIN and moved.z > 20
    assert moved.before == pytest.approx(10, abs=0.05) and moved.after > 12.5


def test_a_reference_day_takes_out_a_rhythm_but_not_a_fault() -> None:
    times = np.arange(0, 200 * MIN, MIN, dtype=np.int64)
    rhythm = np.maximum(0.0, np.arange(200) - 130.0) * 0.05  # the morning rise, every day
    noise = np.random.default_rng(1).normal(0, 0.05, (2, 200))
    today = np.vstack([rhythm, rhythm]) + noise
    today[1, 160:] += 2.0
    drift, fault = find_changes(times, today, 120 * MIN, np.vstack([rhythm, rhythm]))
    assert not drift.changed and fault.onset_ms == 160 * MIN
    (alone,) = find_changes(times, today[:1], 120 * MIN)
    assert alone.changed  # without the reference the daily rise looks like a change


def test_topology_reach_and_explanation() -> None:
    topo = Topology({"web": ["api"], "api": ["db"], "worker": ["db"], "db": ["nfs"]})
    assert topo.affected_by("db") == {"api": 1, "worker": 1, "web": 2}
    assert topo.explains("db", ["db", "web", "worker"]) == 1.0
    assert topo.explains("web", ["db", "web"]) == 0.0
    assert topo.related("nfs", "web") and not topo.related("web", "worker")


def test_ranks_the_root_of_a_simulated_disk_full_cascade_first(tmp_path: Path) -> None:
    """A disk filling on db-primary-01, written into the real TSDB and read through PromQL."""
    settings = SimulatorSettings(seed=11, faults=False, interval="60s")
    start = 1_767_225_600_000 + 9 * 3_600_000
    sim = Simulator(settings, start_ms=start - DAY - 3 * 3_600_000)
    fault = sim.trigger("disk_full", "db-primary-01", at_ms=start)
    storage = open_storage(StorageSettings(path=tmp_path / "tsdb", wal_fsync=False))
    try:
        for lo, hi in (
            (sim.start_ms, start - DAY + 2 * 3_600_000),
            (start - 3 * 3_600_000, start + 100 * MIN),
        ):
            for batch in sim.generate(lo, hi):
                storage.append(batch)
        queries = QueryService(storage)
        topo = Topology({s.name: s.dependencies for s in sim.fleet})
        causes = rank_causes(queries, start + 3 * MIN, start + 100 * MIN, topology=topo)
        top = causes[0]
        assert (top.server, top.metric) == (fault.root_server, fault.root_metric)
        ev = top.evidence[0]
        assert ev.series["mountpoint"] == "/data" and ev.change > 0.1 and ev.z >= 6
        assert ev.onset is not None and abs(ev.onset * 1000 - start) <= 5 * MIN
        assert top.reasons and 0 < top.score <= 1
        # the evidence's PromQL, run independently, shows the disk full at the end
        shown = queries.instant(ev.promql, start + 100 * MIN)
        assert float(shown.series[0].values[-1]) > 0.9
    finally:
        storage.close()


@pytest.mark.parametrize("scenario", ["service_crash", "network_congestion", "cpu_spike"])
def test_benchmark_trial_finds_the_root(scenario: str) -> None:
    trial = run_trial(3, scenario, seed=7)
    assert trial.ranks["openmanager"] == 0, trial
    assert trial.top["openmanager"] == (trial.root_server, trial.root_metric)


def test_benchmark_small_run_and_command() -> None:
    res = run(faults=3, seed=7)
    assert [t.scenario for t in res.trials] == ["cpu_spike", "disk_full", "memory_leak"]
    for m in ("openmanager", "largest_anomaly", "random"):
        assert 0.0 <= res.accuracy(m, 1) <= res.accuracy(m, 3) <= 1.0
    assert res.accuracy("openmanager", 3) >= 2 / 3
    out = CliRunner().invoke(cli_app, ["bench", "rca", "--faults", "1"])
    assert out.exit_code == 0, out.output
    assert "OpenManager ranker" in out.output and "random ranking" in out.output


@pytest.mark.slow
def test_live_platform_ranks_a_triggered_fault_over_the_api(tmp_path: Path) -> None:
    """A running platform (simulator backfilled into the real TSDB), an incident, its causes."""
    settings = load_settings(
        None,
        {
            "profile": "test",
            "storage": {"path": str(tmp_path / "data")},
            "simulator": {"backfill": "4h", "faults": False, "seed": 5},
        },
    )
    platform = Platform(settings)
    assert platform.fleet is not None
    at = int((time.time() - 80 * 60) * 1000)
    fault = platform.fleet.simulator.trigger("network_congestion", "storage-nfs-01", at_ms=at)
    with TestClient(create_app(platform)) as client:
        inc = platform.incidents.add(
            Event("anomaly", at / 1000 + 180, "k", ("db-primary-01",), "slow responses")
        )
        assert inc is not None
        data = client.get(f"/api/v1/incidents/{inc.id}").json()["data"]
        top = data["causes"][0]
        assert (top["server"], top["metric"]) == (fault.root_server, fault.root_metric)
        ev = top["evidence"][0]
        assert ev["z"] >= 6 and ev["after"] > 3 * ev["before"]
        # the evidence's PromQL, asked independently, shows the flood
        got = client.get("/api/v1/query", params={"query": ev["promql"], "time": at / 1000 + 1800})
        value = float(got.json()["data"]["result"][0]["value"][1])
        assert value > 3 * ev["before"]


@pytest.mark.parametrize("after_ms", [1_000, 3_000, 14_999, 15_001, 7_200_000 + 7_000])
def test_the_window_grid_ends_at_the_newest_moment(after_ms: int) -> None:
    """An incident looked at seconds after it opened still sees the samples that opened it."""
    start = 1_700_000_003_217
    w = Window.around(start, start + after_ms)
    assert w.end_ms == max(start + after_ms, w.search_ms + w.step_ms)
    assert (w.end_ms - w.baseline_ms) % w.step_ms == 0
    assert w.baseline_ms <= w.search_ms - 120 * 60_000
