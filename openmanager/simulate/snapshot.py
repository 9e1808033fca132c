"""Per-server key figures and a healthy/warning/critical verdict, for the JSON fleet endpoint."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

STATUSES = ("healthy", "warning", "critical")

THRESHOLDS: dict[str, tuple[float, float]] = {
    "cpu_percent": (75.0, 90.0),
    "memory_percent": (85.0, 95.0),
    "disk_percent": (85.0, 95.0),
    "response_time_ratio": (3.0, 6.0),
}
"""(warning, critical) bounds; response time is judged against the server's own baseline."""


@dataclass(frozen=True)
class ServerSnapshot:
    """What the fleet overview shows for one server at one time."""

    name: str
    environment: str
    role: str
    instance: str
    cpu_percent: float
    memory_percent: float
    disk_percent: float
    network_rx_bytes_per_s: float
    network_tx_bytes_per_s: float
    response_time_ms: float
    baseline_response_time_ms: float
    service_up: bool
    active_faults: tuple[str, ...]
    status: str
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        d = asdict(self)
        d["active_faults"] = list(self.active_faults)
        d["reasons"] = list(self.reasons)
        return d


def judge(
    cpu: float, mem: float, disk: float, rt_ms: float, base_rt_ms: float, up: bool
) -> tuple[str, tuple[str, ...]]:
    """Status and the reasons for it: the worst level any figure reaches."""
    level, reasons = 0, []
    if not up:
        level, reasons = 2, ["service down"]
    figures = {
        "cpu_percent": cpu,
        "memory_percent": mem,
        "disk_percent": disk,
        "response_time_ratio": rt_ms / base_rt_ms if base_rt_ms > 0 else 0.0,
    }
    for key, value in figures.items():
        warn, crit = THRESHOLDS[key]
        hit = 2 if value >= crit else 1 if value >= warn else 0
        if hit:
            reasons.append(f"{key} {value:.1f} >= {crit if hit == 2 else warn:g}")
            level = max(level, hit)
    return STATUSES[level], tuple(reasons)


@dataclass(frozen=True)
class FleetSnapshot:
    """Every server's figures at `time_ms`, plus fleet totals."""

    time_ms: int
    servers: tuple[ServerSnapshot, ...]

    def summary(self) -> dict[str, Any]:
        """Totals, counts per status, average CPU and memory, active faults."""
        n = len(self.servers)
        counts = {s: sum(1 for x in self.servers if x.status == s) for s in STATUSES}
        faults = sorted({f for x in self.servers for f in x.active_faults})
        return {
            "total": n,
            **counts,
            "avg_cpu_percent": round(sum(x.cpu_percent for x in self.servers) / n, 2) if n else 0.0,
            "avg_memory_percent": round(sum(x.memory_percent for x in self.servers) / n, 2)
            if n
            else 0.0,
            "active_faults": faults,
        }

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the JSON fleet endpoint."""
        return {
            "time_ms": self.time_ms,
            "summary": self.summary(),
            "servers": [s.to_dict() for s in self.servers],
        }
