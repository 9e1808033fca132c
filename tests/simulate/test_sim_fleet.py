"""Fleet composition, the JSON snapshot with health status, the CLI, and a 10,000-server tick."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from openmanager.cli.simulate_cmd import parse_time, parse_trigger
from openmanager.config.settings import SimulatorSettings
from openmanager.errors import InvalidInput
from openmanager.simulate import (
    DEFAULT_FLEET,
    ENVIRONMENTS,
    ROLES,
    Simulator,
    build_fleet,
    fleet_from_dicts,
)
from tests.simulate.signals import START

HOUR = 3_600_000


def test_default_fleet_is_the_twenty_named_servers() -> None:
    fleet = build_fleet(20)
    names = [s.name for s in fleet]
    assert names[:3] == ["web-server-01", "db-primary-01", "storage-nfs-01"]
    assert len(set(names)) == 20 and names == [n for n, _, _, _ in DEFAULT_FLEET]
    assert {s.environment for s in fleet} == set(ENVIRONMENTS)
    assert {s.role for s in fleet} == set(ROLES)
    envs = {s.name: s.environment for s in fleet}
    assert envs["k8s-api-01"] == "kubernetes" and envs["aws-db-rds-01"] == "aws"
    assert fleet.get("web-server-01").dependencies == (
        "api-gateway-01",
        "db-primary-01",
        "cache-redis-01",
    )
    assert {s.name for s in fleet.dependents("db-primary-01")} >= {"web-server-01", "db-replica-01"}
    for s in fleet:
        assert all(fleet.has(d) for d in s.dependencies)
        assert s.to_dict()["instance"] == f"{s.name}:9100"


def test_generated_fleets_extend_and_truncate() -> None:
    small = build_fleet(5)
    assert [s.name for s in small] == [n for n, _, _, _ in DEFAULT_FLEET[:5]]
    assert all(all(small.has(d) for d in s.dependencies) for s in small)
    big = build_fleet(1000)
    assert len({s.name for s in big}) == 1000
    assert all(all(big.has(d) and d != s.name for d in s.dependencies) for s in big)
    assert {s.role for s in list(big)[20:]} == set(ROLES)


def test_custom_fleet_composition() -> None:
    fleet = fleet_from_dicts(
        [
            {"name": "lb-1", "environment": "aws", "role": "gateway", "dependencies": ["app-1"]},
            {"name": "app-1", "environment": "aws", "role": "api", "dependencies": ["pg-1"]},
            {"name": "pg-1", "environment": "gcp", "role": "database"},
        ]
    )
    sim = Simulator(SimulatorSettings(faults=False), start_ms=START, fleet=fleet)
    assert len(sim.tick(START)) == len(sim.series)
    assert {dict(lbl)["server"] for lbl in sim.series} == {"lb-1", "app-1", "pg-1"}
    rec = sim.trigger("disk_full", at_ms=START + 60_000)
    assert rec.root_server == "pg-1" and "app-1" in rec.servers
    with pytest.raises(InvalidInput, match="role 'chef'"):
        fleet_from_dicts([{"name": "x", "environment": "aws", "role": "chef"}])
    with pytest.raises(InvalidInput, match="unknown dependencies"):
        fleet_from_dicts(
            [{"name": "x", "environment": "aws", "role": "web", "dependencies": ["y"]}]
        )


def test_snapshot_reports_status_with_reasons() -> None:
    sim = Simulator(SimulatorSettings(faults=False), start_ms=START)
    calm = sim.snapshot()
    assert calm.time_ms == START and len(calm.servers) == 20
    crash = sim.trigger("service_crash", server="cache-redis-01", at_ms=START + HOUR)
    disk = sim.trigger("disk_full", server="db-primary-01", at_ms=START + HOUR)
    for _ in sim.frames(START, crash.start_ms + 60_000):
        pass
    snap = sim.snapshot()
    by_name = {s.name: s for s in snap.servers}
    redis = by_name["cache-redis-01"]
    assert redis.status == "critical" and not redis.service_up and "service down" in redis.reasons
    assert set(redis.active_faults) == {crash.id}
    assert disk.id in by_name["db-primary-01"].active_faults
    healthy = [s for s in snap.servers if not s.active_faults]
    assert all(s.service_up for s in healthy)
    summary = snap.to_dict()["summary"]
    assert summary["total"] == 20 and summary["critical"] >= 1
    assert summary["healthy"] + summary["warning"] + summary["critical"] == 20
    assert 0 < summary["avg_cpu_percent"] < 100 and 0 < summary["avg_memory_percent"] < 100
    json.dumps(snap.to_dict())
    for _ in sim.frames(sim.last_time_ms + 15_000, disk.end_ms - 15 * 60_000):  # type: ignore[operator]
        pass
    full = {s.name: s for s in sim.snapshot().servers}["db-primary-01"]
    assert full.disk_percent > 95 and full.status == "critical"


def test_parse_helpers() -> None:
    assert parse_time("2023-11-15T00:00:00Z") == START
    assert parse_time("1700006400") == START and parse_time(str(START)) == START
    with pytest.raises(InvalidInput, match="invalid time"):
        parse_time("yesterday")
    assert parse_trigger("disk_full:db-primary-01:+2h", START, 4 * HOUR) == (
        "disk_full",
        "db-primary-01",
        START + 2 * HOUR,
    )
    assert parse_trigger("cpu_spike", START, 4 * HOUR) == ("cpu_spike", None, START + 2 * HOUR)
    with pytest.raises(InvalidInput, match="known"):
        parse_trigger("nope", START, HOUR)


def test_simulate_command_writes_history_and_truth(tmp_path: Path) -> None:
    import typer

    app = typer.Typer()
    app.command()(__import__("openmanager.cli.simulate_cmd", fromlist=["simulate"]).simulate)
    out = tmp_path / "hist"
    args = ["--duration", "30m", "--seed", "9", "--servers", "4", "--out", str(out),
            "--start", "2023-11-15T00:00:00Z", "--trigger", "cpu_spike:web-server-01:+5m"]  # fmt: skip
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "samples" in res.output and "faults" in res.output
    om = (out / "fleet.om").read_bytes()
    assert om.endswith(b"# EOF\n") and om.count(b"\n") > 4 * 45 * 120
    truth = json.loads((out / "ground_truth.json").read_text())
    assert truth["start_ms"] == START and truth["seed"] == 9
    spike = [f for f in truth["faults"] if f["source"] == "manual"]
    assert spike and spike[0]["root_cause"]["server"] == "web-server-01"
    assert spike[0]["start_ms"] == START + 5 * 60_000
    bad = CliRunner().invoke(app, ["--out", str(out), "--trigger", "nope"])
    assert bad.exit_code == 1 and "unknown fault scenario" in bad.output


@pytest.mark.slow
def test_ten_thousand_servers_tick_quickly() -> None:
    sim = Simulator(SimulatorSettings(servers=10_000), start_ms=START)
    assert len(sim.fleet) == 10_000
    sim.tick(START)
    began = time.perf_counter()
    batch = sim.tick(START + 15_000)
    took = time.perf_counter() - began
    assert len(batch) == len(sim.series) >= 10_000 * 45
    assert took < 1.5, f"one 10k-server tick took {took:.2f}s"
    assert len(sim.snapshot().servers) == 10_000
