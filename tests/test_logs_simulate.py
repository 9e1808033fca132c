"""Simulated logs: deterministic, chunk-independent, telling the story of each fault."""

from __future__ import annotations

from openmanager.config.settings import SimulatorSettings
from openmanager.logs.record import LogRecord
from openmanager.simulate import Simulator
from openmanager.simulate.faults import FaultRecord
from openmanager.simulate.logs import LogSimulator

HOUR = 3_600_000
MIN = 60_000
T0 = 1_700_006_400_000


def quiet_sim(seed: int = 1) -> Simulator:
    return Simulator(SimulatorSettings(seed=seed, faults=False), start_ms=T0)


def with_fault(scenario: str, server: str | None = None) -> tuple[list[LogRecord], FaultRecord]:
    sim = quiet_sim()
    fault = sim.trigger(scenario, server, T0 + HOUR)
    lines = LogSimulator.of(sim).lines(T0, T0 + 12 * HOUR)
    return lines, fault


def during(lines: list[LogRecord], text: str, server: str | None = None) -> list[LogRecord]:
    return [r for r in lines if text in r.message and (server is None or r.server == server)]


def test_same_seed_same_lines_and_any_chunking_agrees() -> None:
    a = LogSimulator.of(quiet_sim()).lines(T0, T0 + 2 * HOUR)
    b = LogSimulator.of(quiet_sim())
    chunks = [b.lines(t, t + 7 * MIN) for t in range(T0, T0 + 2 * HOUR, 7 * MIN)]
    assert a == [r for c in chunks for r in c if r.ts_ms < T0 + 2 * HOUR]
    assert a != LogSimulator.of(quiet_sim(seed=2)).lines(T0, T0 + 2 * HOUR)


def test_everyday_volume_levels_and_sources() -> None:
    sim = quiet_sim()
    lines = LogSimulator.of(sim, lines_per_minute=4.0).lines(T0, T0 + HOUR)
    per_server = len(lines) / len(sim.fleet)
    assert 200 < per_server < 280  # about 4 a minute
    assert {r.server for r in lines} == {s.name for s in sim.fleet}
    levels = {r.level for r in lines}
    assert {"info", "warning"} <= levels
    assert sum(r.level == "info" for r in lines) > 0.9 * len(lines)
    assert {"syslog", "postgresql", "nginx"} <= {r.source for r in lines}
    assert all(T0 <= r.ts_ms < T0 + HOUR for r in lines)
    assert [r.ts_ms for r in lines] == sorted(r.ts_ms for r in lines)
    assert LogSimulator.of(sim, lines_per_minute=0.0).lines(T0, T0 + HOUR) == []


def test_disk_full_writes_slow_queries_then_enospc_and_slows_the_web_tier() -> None:
    lines, f = with_fault("disk_full", "db-primary-01")
    root = f.root_server
    full = during(lines, "No space left on device", root)
    slow = during(lines, "duration:", root)
    assert len(full) >= 5 and len(slow) >= 20
    assert all(f.start_ms <= r.ts_ms <= f.end_ms for r in full + slow)
    assert all(r.level in ("error", "critical") for r in full)
    assert min(r.ts_ms for r in slow) < min(r.ts_ms for r in full)  # slow first, then full
    assert during(lines, "filesystem /data is", root)
    dependents = {a.server for a in f.affected if a.server != root}
    assert (
        dependents and {r.server for r in during(lines, "waiting on db-primary-01")} <= dependents
    )
    assert not during(lines, "No space left on device", "web-server-01")


def test_memory_leak_ends_in_an_oom_kill_and_a_restart_banner() -> None:
    lines, f = with_fault("memory_leak")
    oom = during(lines, "Out of memory: Killed process", f.root_server)
    banner = during(lines, "starting (pid", f.root_server)
    assert len(oom) == 1 and oom[0].level == "critical"
    assert len(banner) == 1 and banner[0].ts_ms > oom[0].ts_ms
    assert during(lines, "GC pause", f.root_server)


def test_network_congestion_times_out_its_clients() -> None:
    lines, f = with_fault("network_congestion", "storage-nfs-01")
    assert during(lines, "nf_conntrack", "storage-nfs-01")
    timeouts = during(lines, "timed out")
    assert timeouts and all(r.server != "storage-nfs-01" for r in timeouts)
    assert all(f.start_ms <= r.ts_ms <= f.end_ms for r in timeouts)


def test_service_crash_segfault_restart_and_502s() -> None:
    lines, f = with_fault("service_crash", "k8s-api-01")
    assert f.restart_ms is not None
    assert during(lines, "segfault", "k8s-api-01")[0].ts_ms == f.start_ms
    banner = during(lines, "starting (pid", "k8s-api-01")
    assert [r.ts_ms for r in banner] == [f.restart_ms + 2000]
    assert during(lines, "502 Bad Gateway")


def test_ground_truth_ids_are_never_on_a_line() -> None:
    sim = Simulator(SimulatorSettings(seed=3, fault_rate_scale=60), start_ms=T0)
    lines = LogSimulator.of(sim).lines(T0, T0 + 6 * HOUR)
    faults = sim.faults_between(T0, T0 + 6 * HOUR)
    assert len(faults) > 5
    ids = {f.id for f in faults} | {f.id.removeprefix("flt-") for f in faults}
    assert not [r for r in lines for i in ids if i in r.message]
    assert not [r for r in lines if "flt-" in r.message or "scenario" in r.message]
