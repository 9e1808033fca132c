"""Simulated server logs: everyday lines per role plus the lines each fault causes, per seed.

Lines are a pure function of (seed, server, time bucket, fault), generated per whole bucket and
cut to the asked range, so any chunking of a range gives the same lines. Fault ids seed the
random draws but are never written on a line.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import accumulate

from openmanager.logs.record import LogRecord
from openmanager.simulate.faults import Affected, FaultRecord
from openmanager.simulate.fleet import Fleet, Server
from openmanager.simulate.logs_templates import (
    FAULT_TEMPLATES,
    ONCE_TEMPLATES,
    ROLE_TEMPLATES,
    SYSTEM_TEMPLATES,
    Ctx,
    Template,
)
from openmanager.simulate.simulator import Simulator

MIN_MS = 60_000
HOUR_MS = 3_600_000
SYSTEM_SHARE = 0.25
"""Share of everyday lines that come from the system log rather than the role's service."""
LOOKBACK_MS = 10 * MIN_MS
"""One-shot lines (restart banners) may follow the end of their fault by this much."""


@dataclass(frozen=True)
class Episode:
    """Lines of one `kind` on one server over [start, end) at `per_minute`, or once at start."""

    server: str
    kind: str
    start_ms: int
    end_ms: int
    per_minute: float = 0.0
    peer: str = ""

    @property
    def once(self) -> bool:
        """A burst of one-shot lines (crash, OOM kill, restart banner) rather than a rate."""
        return self.kind in ONCE_TEMPLATES


def _poisson(r: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(r.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, r.random()
    while p > limit:
        k += 1
        p *= r.random()
    return k


def _find(f: FaultRecord, metric: str, root: bool = True) -> list[Affected]:
    return [a for a in f.affected if a.metric == metric and (a.server == f.root_server) == root]


def episodes(f: FaultRecord) -> list[Episode]:
    """What a fault writes to the logs of each server it touches, and when."""
    root, out = f.root_server, []
    lat = "http_request_duration_seconds"
    if f.scenario == "disk_full":
        fs = _find(f, "node_filesystem_avail_bytes")[0]
        filled = _find(f, "node_disk_written_bytes_total")[0].end_ms
        out += [Episode(root, "disk_filling", fs.start_ms, filled, 0.3),
                Episode(root, "enospc", filled, fs.end_ms - 10 * MIN_MS, 2.0)]  # fmt: skip
        out += [Episode(root, "slow_query", a.start_ms, a.end_ms, 3.0) for a in _find(f, lat)]
        out += [Episode(a.server, "upstream_slow", a.start_ms, a.end_ms, 2.0, root)
                for a in _find(f, lat, root=False)]  # fmt: skip
    elif f.scenario == "memory_leak":
        mem = _find(f, "node_memory_MemAvailable_bytes")[0]
        kill = mem.end_ms - 5 * MIN_MS
        out += [Episode(root, "mem_pressure", mem.start_ms, kill, 0.3)]
        out += [Episode(root, "gc_thrash", a.start_ms, kill, 2.0)
                for a in _find(f, "node_cpu_seconds_total")]  # fmt: skip
        out += [Episode(root, "oom_kill", kill, kill), Episode(root, "restart", kill + 4000, kill)]
        out += [Episode(a.server, "cache_full", a.start_ms, a.end_ms, 0.5, root)
                for a in _find(f, "node_memory_MemAvailable_bytes", root=False)]  # fmt: skip
    elif f.scenario == "network_congestion":
        out += [Episode(root, "net_flood", a.start_ms, a.end_ms, 3.0)
                for a in _find(f, "node_network_receive_bytes_total")]  # fmt: skip
        out += [Episode(a.server, "net_timeout", a.start_ms, a.end_ms, 1.5, root)
                for a in _find(f, lat, root=False)]  # fmt: skip
    elif f.scenario == "cpu_spike":
        out += [Episode(root, "cpu_hog", a.start_ms, a.end_ms, 2.0)
                for a in _find(f, "node_cpu_seconds_total")]  # fmt: skip
    elif f.scenario == "service_crash":
        restart = f.restart_ms if f.restart_ms is not None else f.end_ms
        out += [Episode(root, "crash", f.start_ms, f.start_ms),
                Episode(root, "service_down", f.start_ms + 5000, restart, 2.0),
                Episode(root, "restart", restart, restart)]  # fmt: skip
        out += [Episode(a.server, "upstream_5xx", a.start_ms, a.end_ms, 3.0, root)
                for a in _find(f, "http_requests_total", root=False)]  # fmt: skip
    return out


class _Picker:
    """Weighted choice among templates with precomputed cumulative weights."""

    def __init__(self, weighted: Sequence[tuple[float, Template]]) -> None:
        self.templates = [t for _, t in weighted]
        self.cum = list(accumulate(w for w, _ in weighted))

    def pick(self, r: random.Random) -> Template:
        return r.choices(self.templates, cum_weights=self.cum)[0]


_ROLE = {role: _Picker(t) for role, t in ROLE_TEMPLATES.items()}
_SYSTEM = _Picker(SYSTEM_TEMPLATES)
_FAULT = {kind: _Picker(t) for kind, t in FAULT_TEMPLATES.items()}


FaultsBetween = Callable[[int, int], list[FaultRecord]]


class LogSimulator:
    """Log lines of a fleet and its faults; `lines(start, end)` for any range.

    `faults(start, end)` lists the faults under way in a range (`Simulator.faults_between`).
    """

    def __init__(
        self, fleet: Fleet, seed: int, faults: FaultsBetween, lines_per_minute: float = 4.0
    ) -> None:
        self.fleet, self.seed, self.faults, self.rate = fleet, seed, faults, lines_per_minute
        self._cache: dict[tuple[int, int], list[LogRecord]] = {}

    @classmethod
    def of(cls, sim: Simulator, lines_per_minute: float = 4.0) -> LogSimulator:
        """The logs of a simulator's fleet and faults."""
        return cls(sim.fleet, sim.seed, sim.faults_between, lines_per_minute)

    def _peer(self, s: Server) -> str:
        deps = self.fleet.dependencies(s.name) or self.fleet.dependents(s.name)
        return deps[0].name if deps else s.name

    def everyday(self, server: Server, hour: int) -> list[LogRecord]:
        """The background lines of `server` in hour number `hour` since the epoch."""
        key = (server.index, hour)
        got = self._cache.get(key)
        if got is not None:
            return got
        r = random.Random(f"{self.seed}:logs:{server.index}:{hour}")
        n = _poisson(r, self.rate * 60)
        times = sorted(r.randrange(hour * HOUR_MS, (hour + 1) * HOUR_MS) for _ in range(n))
        ctx, role = Ctx(server, self._peer(server)), _ROLE.get(server.role, _SYSTEM)
        out = []
        for t in times:
            level, source, render = (_SYSTEM if r.random() < SYSTEM_SHARE else role).pick(r)
            out.append(LogRecord(t, server.name, level, source, render(r, ctx)))
        if len(self._cache) > 4 * len(self.fleet):
            self._cache.clear()
        self._cache[key] = out
        return out

    def fault_lines(self, f: FaultRecord, start_ms: int, end_ms: int) -> list[LogRecord]:
        """Lines fault `f` causes within [start, end)."""
        out: list[LogRecord] = []
        for i, ep in enumerate(episodes(f)):
            if not self.fleet.has(ep.server):
                continue
            server = self.fleet.get(ep.server)
            seed = f"{self.seed}:{f.id}:{i}"
            if ep.once:
                if start_ms <= ep.start_ms < end_ms or start_ms <= ep.start_ms + 3000 < end_ms:
                    r = random.Random(seed)
                    ctx = Ctx(server, ep.peer or self._peer(server))
                    for k, (level, source, render) in enumerate(ONCE_TEMPLATES[ep.kind]):
                        t = ep.start_ms + 1000 * k
                        line = LogRecord(t, server.name, level, source, render(r, ctx))
                        if start_ms <= t < end_ms:
                            out.append(line)
                continue
            out += self._rate_lines(ep, server, seed, start_ms, end_ms)
        return out

    def _rate_lines(
        self, ep: Episode, server: Server, seed: str, start_ms: int, end_ms: int
    ) -> list[LogRecord]:
        lo, hi = max(ep.start_ms, start_ms), min(ep.end_ms, end_ms)
        out: list[LogRecord] = []
        span = max(ep.end_ms - ep.start_ms, 1)
        picker, peer = _FAULT[ep.kind], ep.peer or self._peer(server)
        for minute in range(lo // MIN_MS, -(-hi // MIN_MS)):
            a, b = max(ep.start_ms, minute * MIN_MS), min(ep.end_ms, (minute + 1) * MIN_MS)
            if b <= a:
                continue
            r = random.Random(f"{seed}:{minute}")
            n = _poisson(r, ep.per_minute * (b - a) / MIN_MS)
            for t in sorted(r.randrange(a, b) for _ in range(n)):
                level, source, render = picker.pick(r)
                line = LogRecord(t, server.name, level, source,
                                 render(r, Ctx(server, peer, (t - ep.start_ms) / span)))  # fmt: skip
                if start_ms <= t < end_ms:
                    out.append(line)
        return out

    def lines(self, start_ms: int, end_ms: int) -> list[LogRecord]:
        """Every simulated line with a time in [start, end), oldest first."""
        out: list[LogRecord] = []
        for hour in range(start_ms // HOUR_MS, -(-end_ms // HOUR_MS)):
            for server in self.fleet:
                out += [x for x in self.everyday(server, hour) if start_ms <= x.ts_ms < end_ms]
        for f in self.faults(start_ms - LOOKBACK_MS, end_ms):
            out += self.fault_lines(f, start_ms, end_ms)
        out.sort(key=lambda x: (x.ts_ms, x.server))
        return out
