"""Role baselines and the per-server parameters drawn from them (vectors over the fleet)."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from openmanager.simulate import noise
from openmanager.simulate.fleet import Fleet
from openmanager.simulate.noise import F64, HOUR_MS, I64

GIB = 1 << 30


@dataclass(frozen=True)
class RoleProfile:
    """Typical behaviour of one role; servers jitter around it."""

    cpu_base: float  # busy fraction at the daily trough
    cpu_amp: float  # extra busy fraction at the daily peak
    mem_base: float  # used fraction of memory
    mem_amp: float
    mem_gib: float
    root_gib: float
    data_gib: float
    root_used: float
    data_used: float
    net_rx: float  # bytes/s at peak
    tx_ratio: float
    disk_read: float  # bytes/s at peak
    disk_write: float
    rps: float  # requests/s at peak
    latency_ms: float  # median request latency
    weekend: float  # load factor on Saturday and Sunday
    phase_h: float  # local hour of the daily trough


ROLE_PROFILES: dict[str, RoleProfile] = {
    "web": RoleProfile(0.08, 0.40, 0.40, 0.10, 8, 50, 100, 0.35, 0.40, 12e6, 3.0, 1e6, 2e6, 180, 45, 0.55, 4),
    "database": RoleProfile(0.12, 0.35, 0.72, 0.06, 64, 50, 2000, 0.30, 0.62, 25e6, 1.5, 40e6, 18e6, 400, 9, 0.7, 4),
    "api": RoleProfile(0.10, 0.40, 0.50, 0.10, 16, 50, 200, 0.32, 0.35, 15e6, 1.2, 2e6, 3e6, 250, 60, 0.6, 4),
    "worker": RoleProfile(0.20, 0.45, 0.55, 0.15, 32, 50, 500, 0.40, 0.50, 6e6, 0.8, 8e6, 10e6, 25, 320, 0.9, 16),
    "gateway": RoleProfile(0.06, 0.28, 0.35, 0.08, 8, 50, 50, 0.30, 0.25, 30e6, 1.0, 5e5, 1e6, 520, 14, 0.55, 4),
    "cache": RoleProfile(0.05, 0.15, 0.74, 0.05, 32, 50, 100, 0.28, 0.20, 20e6, 1.1, 2e5, 4e6, 2400, 1.2, 0.6, 4),
    "storage": RoleProfile(0.06, 0.12, 0.42, 0.05, 16, 50, 8000, 0.25, 0.66, 40e6, 0.9, 30e6, 35e6, 60, 25, 0.8, 4),
    "monitoring": RoleProfile(0.22, 0.12, 0.62, 0.05, 16, 50, 1000, 0.33, 0.55, 8e6, 0.5, 4e6, 12e6, 35, 80, 1.0, 4),
}  # fmt: skip

_TZ_HOURS = {"onpremise": 9, "idc": 9, "vdi": 9, "kubernetes": 9, "aws": 0, "gcp": 0, "azure": 0}


@dataclass(frozen=True)
class FleetParams:
    """Per-server parameters as NumPy vectors (index = server index); drawn once from the seed."""

    idx: I64
    tz_ms: I64
    cpu_base: F64
    cpu_amp: F64
    mem_base: F64
    mem_amp: F64
    mem_bytes: F64
    root_bytes: F64
    data_bytes: F64
    root_used: F64
    data_used: F64
    data_growth: F64  # used fraction per day
    net_rx: F64
    tx_ratio: F64
    disk_read: F64
    disk_write: F64
    rps: F64
    latency_s: F64
    weekend: F64
    phase_h: F64
    node_uptime_ms: I64
    service_uptime_ms: I64
    cpu_skew: F64  # share of load on cpu 0 vs cpu 1


def _jitter(seed: int, stream: int, idx: I64, base: F64, spread: float) -> F64:
    u = noise.per_server(seed, stream, idx)
    out: F64 = base * (1.0 + spread * (2.0 * u - 1.0))
    return out


def draw_params(fleet: Fleet, seed: int) -> FleetParams:
    """Jitter each server around its role profile; a pure function of (seed, server index)."""
    idx = np.array([s.index for s in fleet], dtype=np.int64)
    profs = [ROLE_PROFILES[s.role] for s in fleet]
    col = {
        f.name: np.array([getattr(p, f.name) for p in profs], dtype=np.float64)
        for f in fields(RoleProfile)
    }
    j = {name: _jitter(seed, 100 + k, idx, col[name], 0.2) for k, name in enumerate(col)}
    tz = np.array([_TZ_HOURS[s.environment] for s in fleet], dtype=np.int64) * HOUR_MS
    u = [noise.per_server(seed, 200 + k, idx) for k in range(6)]
    data_used = np.clip(j["data_used"], 0.05, 0.8)
    return FleetParams(
        idx=idx,
        tz_ms=-tz + (u[0] * 2 * HOUR_MS).astype(np.int64) - HOUR_MS,
        cpu_base=j["cpu_base"],
        cpu_amp=j["cpu_amp"],
        mem_base=np.clip(j["mem_base"], 0.05, 0.76),
        mem_amp=j["mem_amp"],
        mem_bytes=col["mem_gib"] * GIB,
        root_bytes=col["root_gib"] * GIB,
        data_bytes=col["data_gib"] * GIB,
        root_used=j["root_used"],
        data_used=data_used,
        data_growth=(0.86 - data_used) / 30.0 * (0.3 + 0.7 * u[1]),
        net_rx=j["net_rx"],
        tx_ratio=j["tx_ratio"],
        disk_read=j["disk_read"],
        disk_write=j["disk_write"],
        rps=j["rps"],
        latency_s=j["latency_ms"] / 1000.0,
        weekend=np.clip(j["weekend"], 0.2, 1.0),
        phase_h=col["phase_h"] + (u[2] - 0.5),
        node_uptime_ms=((2.0 + 88.0 * u[3]) * 86_400_000).astype(np.int64),
        service_uptime_ms=((0.5 + 20.0 * u[4]) * 86_400_000).astype(np.int64),
        cpu_skew=0.5 + 0.15 * (u[5] - 0.5),
    )
