"""Fault scenarios: how each fault starts on its root server and cascades along dependencies."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from openmanager.errors import InvalidInput
from openmanager.simulate.faults import Affected, Effect, FaultRecord
from openmanager.simulate.fleet import ROLES, Fleet, Server

MIN_MS = 60_000
HOUR_MS = 3_600_000
MAX_FAULT_MS = 10 * HOUR_MS
"""No fault (cascade included) lasts longer; bounds how far back the scheduler looks."""
LOAD_LAG_MS = 15 * MIN_MS


class _Plan:
    """Collects the effects and ground-truth entries of one fault while it is planned."""

    def __init__(self, fleet: Fleet, root: Server, start_ms: int, rng: np.random.Generator) -> None:
        self.fleet, self.root, self.start, self.rng = fleet, root, start_ms, rng
        self.effects: list[Effect] = []
        self.affected: list[Affected] = []
        self.restart_ms: int | None = None

    def minutes(self, lo: float, hi: float) -> int:
        """A random whole number of seconds between lo and hi minutes, in ms."""
        return int(self.rng.uniform(lo, hi) * 60) * 1000

    def add(
        self,
        server: Server,
        channel: str,
        metric: str,
        window: tuple[int, int],
        magnitude: float,
        ramp_fall: tuple[int, int] = (0, 0),
        effect: str = "",
        labels: tuple[tuple[str, str], ...] = (),
    ) -> None:
        """Apply an effect to `server` over `window` and record the metric it shows in."""
        s, e = window
        self.effects.append(Effect(server.index, channel, s, e, magnitude, *ramp_fall))
        self.affected.append(Affected(server.name, metric, s, e, labels, effect))
        if channel == "cpu":
            self.affected.append(
                Affected(server.name, "node_load1", s, e + LOAD_LAG_MS, (), "follows CPU")
            )


def _cascade(fleet: Fleet, servers: Sequence[Server], roles: Sequence[str]) -> list[Server]:
    """The servers of the first role in `roles` that any of `servers` has; all of them if none."""
    for role in roles:
        hit = [s for s in servers if s.role == role]
        if hit:
            return hit
    return list(servers)


def _disk_full(p: _Plan) -> None:
    fill, hold, fall = p.minutes(60, 120), p.minutes(30, 90), 10 * MIN_MS
    end = p.start + fill + hold + fall
    mount = (("mountpoint", "/data"),)
    p.add(p.root, "disk_data", "node_filesystem_avail_bytes", (p.start, end), 0.985, (fill, fall),
          "falls to ~1.5% free", mount)  # fmt: skip
    p.add(p.root, "disk_write", "node_disk_written_bytes_total", (p.start, p.start + fill), 2.5,
          (5 * MIN_MS, 2 * MIN_MS), "write rate x3.5 while filling")  # fmt: skip
    lat0 = p.start + int(0.75 * fill)
    p.add(p.root, "latency", "http_request_duration_seconds", (lat0, end), p.rng.uniform(4, 8),
          (10 * MIN_MS, fall), "response time x5-9")  # fmt: skip
    down0 = lat0 + p.minutes(3, 8)
    for s in _cascade(p.fleet, p.fleet.dependents(p.root.name), ("web", "api", "gateway")):
        p.add(s, "latency", "http_request_duration_seconds", (down0, end + 5 * MIN_MS),
              p.rng.uniform(2, 4), (10 * MIN_MS, 5 * MIN_MS), "response time x3-5 (upstream slow)")  # fmt: skip


def _memory_leak(p: _Plan) -> None:
    dur, fall = p.minutes(180, 480), 5 * MIN_MS
    end = p.start + dur
    p.add(p.root, "mem", "node_memory_MemAvailable_bytes", (p.start, end), 0.965, (dur - fall, fall),
          "memory used climbs to ~96%")  # fmt: skip
    cpu0 = p.start + int(0.55 * dur)
    p.add(p.root, "cpu", "node_cpu_seconds_total", (cpu0, end), p.rng.uniform(0.3, 0.45),
          (20 * MIN_MS, fall), "CPU busy +30-45 points (garbage collection)")  # fmt: skip
    cache0 = p.start + int(0.65 * dur)
    caches = [s for s in p.fleet.dependencies(p.root.name) if s.role == "cache"]
    for s in caches or [s for s in p.fleet.dependents(p.root.name) if s.role == "cache"]:
        p.add(s, "mem", "node_memory_MemAvailable_bytes", (cache0, end + 10 * MIN_MS), 0.93,
              (end - cache0, 15 * MIN_MS), "memory used climbs to ~93% (cached sessions)")  # fmt: skip


def _network_congestion(p: _Plan) -> None:
    dur = p.minutes(30, 120)
    end = p.start + dur
    dev = (("device", "eth0"),)
    p.add(p.root, "net_rx", "node_network_receive_bytes_total", (p.start, end), p.rng.uniform(5, 9),
          (3 * MIN_MS, 3 * MIN_MS), "inbound traffic x6-10", dev)  # fmt: skip
    lat0 = p.start + p.minutes(2, 6)
    for s in _cascade(p.fleet, p.fleet.dependents(p.root.name), ("storage", "database")):
        p.add(s, "latency", "http_request_duration_seconds", (lat0, end + 3 * MIN_MS),
              p.rng.uniform(3, 6), (5 * MIN_MS, 5 * MIN_MS), "response time x4-7")  # fmt: skip


def _cpu_spike(p: _Plan) -> None:
    dur = p.minutes(10, 45)
    end = p.start + dur
    p.add(p.root, "cpu", "node_cpu_seconds_total", (p.start, end), p.rng.uniform(0.45, 0.7),
          (MIN_MS, MIN_MS), "CPU busy +45-70 points")  # fmt: skip
    p.add(p.root, "latency", "http_request_duration_seconds", (p.start + 2 * MIN_MS, end),
          p.rng.uniform(0.6, 1.5), (2 * MIN_MS, MIN_MS), "response time x1.6-2.5")  # fmt: skip


def _service_crash(p: _Plan) -> None:
    restart = p.start + p.minutes(2, 10)
    p.restart_ms = restart
    p.add(p.root, "down", "openmanager_service_up", (p.start, restart), 1.0, (0, 0),
          "service down (0)")  # fmt: skip
    p.affected.append(Affected(p.root.name, "http_requests_total", p.start, restart + 1, (),
                               "no requests served, counters reset to 0 at restart"))  # fmt: skip
    err = (("status", "500"),)
    for s in p.fleet.dependents(p.root.name):
        p.add(s, "err", "http_requests_total", (p.start + 15_000, restart + MIN_MS),
              p.rng.uniform(0.2, 0.5), (0, 0), "5xx share +20-50 points (upstream down)", err)  # fmt: skip


@dataclass(frozen=True)
class Scenario:
    """A fault type: how likely per hour, which servers it starts on, how it unfolds."""

    name: str
    description: str
    probability_per_hour: float
    root_metric: str
    root_roles: tuple[str, ...]
    preferred: str
    plan: Callable[[_Plan], None]
    root_labels: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain data for an API listing of the scenarios."""
        return {
            "name": self.name,
            "description": self.description,
            "probability_per_hour": self.probability_per_hour,
            "root_metric": self.root_metric,
            "root_roles": list(self.root_roles),
            "default_server": self.preferred,
        }

    def candidates(self, fleet: Fleet) -> list[Server]:
        """Servers the scenario may start on (by role), never empty."""
        return [s for s in fleet if s.role in self.root_roles] or list(fleet)

    def default_root(self, fleet: Fleet) -> Server:
        """The server an on-demand trigger hits when none is named."""
        return fleet.get(self.preferred) if fleet.has(self.preferred) else self.candidates(fleet)[0]


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("disk_full", "Data disk fills up; the database slows, then the web tier.", 0.004,
                 "node_filesystem_avail_bytes", ("database",), "db-primary-01", _disk_full,
                 (("mountpoint", "/data"),)),
        Scenario("memory_leak", "Gateway leaks memory, then burns CPU; its cache fills up.", 0.005,
                 "node_memory_MemAvailable_bytes", ("gateway",), "api-gateway-01", _memory_leak),
        Scenario("network_congestion", "Inbound flood on storage; its clients slow down.", 0.008,
                 "node_network_receive_bytes_total", ("storage",), "storage-nfs-01",
                 _network_congestion, (("device", "eth0"),)),
        Scenario("cpu_spike", "A runaway process pins the CPU; load and latency follow.", 0.02,
                 "node_cpu_seconds_total", ROLES, "k8s-worker-01", _cpu_spike),
        Scenario("service_crash", "The service crashes and restarts; counters reset.", 0.008,
                 "openmanager_service_up", ROLES, "k8s-api-01", _service_crash),
    )
}  # fmt: skip


def get_scenario(name: str) -> Scenario:
    """The scenario called `name`; InvalidInput listing the known ones otherwise."""
    try:
        return SCENARIOS[name]
    except KeyError:
        known = ", ".join(SCENARIOS)
        raise InvalidInput(f"unknown fault scenario {name!r}; known: {known}") from None


def plan_fault(
    scenario: Scenario,
    fleet: Fleet,
    root: Server,
    start_ms: int,
    rng: np.random.Generator,
    ident: str,
    source: str,
) -> FaultRecord:
    """Unfold `scenario` from `root` at `start_ms` into a ground-truth record with its effects."""
    p = _Plan(fleet, root, start_ms, rng)
    scenario.plan(p)
    end = max(a.end_ms for a in p.affected)
    digest = hashlib.sha1(ident.encode()).hexdigest()[:10]
    return FaultRecord(
        id=f"flt-{digest}",
        scenario=scenario.name,
        root_server=root.name,
        root_metric=scenario.root_metric,
        root_labels=scenario.root_labels,
        start_ms=start_ms,
        end_ms=end,
        affected=tuple(p.affected),
        source=source,
        restart_ms=p.restart_ms,
        description=scenario.description,
        effects=tuple(p.effects),
    )


def scheduled_faults(seed: int, fleet: Fleet, hour: int, scale: float) -> list[FaultRecord]:
    """Faults starting within hour number `hour` since the epoch: a pure function of its inputs."""
    out = []
    for k, sc in enumerate(SCENARIOS.values()):
        lam = sc.probability_per_hour * scale
        if lam <= 0:
            continue
        rng = np.random.default_rng([seed & 0xFFFFFFFF, 7919, k, hour])
        for n in range(int(rng.poisson(lam))):
            start = hour * HOUR_MS + int(rng.integers(0, 3600)) * 1000
            cands = sc.candidates(fleet)
            if fleet.has(sc.preferred) and rng.random() < 0.5:
                root = fleet.get(sc.preferred)
            else:
                root = cands[int(rng.integers(0, len(cands)))]
            ident = f"{seed}:{sc.name}:{hour}:{n}"
            out.append(plan_fault(sc, fleet, root, start, rng, ident, "scheduled"))
    return out
