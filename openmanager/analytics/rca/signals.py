"""The per-server signals root-cause ranking looks at: one PromQL expression per metric family.

Each signal is computed `by (server)` so every candidate is one (server, metric) pair; `metric`
is the raw metric name an operator (and the simulator's ground truth) calls the cause.
`prior` encodes how likely a change in this signal is a cause rather than a symptom: resource
saturation and outages explain slow responses and errors, not the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Signal:
    """A candidate cause metric: its name, the PromQL (with `{sel}` and `{w}`), and its prior."""

    name: str
    metric: str
    expr: str
    prior: float
    unit: str = ""
    floor: float = 1e-9
    """Smallest spread that counts (in the signal's unit): tiny wiggles of a flat series are no change."""
    explains: tuple[str, ...] = ()
    """Other signals of the same server a change in this one accounts for."""
    floor_rel: float = 0.01
    """Smallest spread that counts, relative to the level (rates wander by several percent)."""
    worse: int = 1
    """+1 if a rise is the bad direction (usage, latency), -1 if a fall is (service up)."""

    def promql(self, selector: str = "", window: str = "5m") -> str:
        """The expression restricted by a label selector body (e.g. `server="db-1"`)."""
        sel = f",{selector}" if selector else ""
        return self.expr.replace("{sel}", sel).replace("{w}", window)


SIGNALS: tuple[Signal, ...] = (
    Signal(
        "cpu", "node_cpu_seconds_total",
        'sum by (server) (rate(node_cpu_seconds_total{mode=~"user|system"{sel}}[{w}]))',
        1.0, "cores", 0.05, ("load", "latency"),
    ),
    Signal(
        "memory", "node_memory_MemAvailable_bytes",
        "max by (server) (1 - node_memory_MemAvailable_bytes{job=\"node\"{sel}}"
        " / node_memory_MemTotal_bytes{job=\"node\"{sel}})",
        1.0, "ratio", 0.01, ("cpu", "latency", "load"),
    ),
    Signal(
        "filesystem", "node_filesystem_avail_bytes",
        "max by (server, mountpoint) (1 - node_filesystem_avail_bytes{job=\"node\"{sel}}"
        " / node_filesystem_size_bytes{job=\"node\"{sel}})",
        1.0, "ratio", 0.005, ("disk_write", "latency"),
    ),
    Signal(
        "network_rx", "node_network_receive_bytes_total",
        "sum by (server) (rate(node_network_receive_bytes_total{job=\"node\"{sel}}[{w}]))",
        1.0, "bytes/s", 1e-9, ("latency",), 0.1,
    ),
    Signal(
        "service_up", "openmanager_service_up",
        "min by (server) (openmanager_service_up{job=\"service\"{sel}})",
        1.0, "", 0.01, ("errors", "latency"), 0.01, -1,
    ),
    Signal(
        "disk_write", "node_disk_written_bytes_total",
        "sum by (server) (rate(node_disk_written_bytes_total{job=\"node\"{sel}}[{w}]))",
        0.7, "bytes/s", 1e-9, ("latency",), 0.1,
    ),
    Signal(
        "load", "node_load1", "max by (server) (node_load1{job=\"node\"{sel}})", 0.5, "", 0.05,
    ),
    Signal(
        "errors", "http_requests_total",
        'sum by (server) (rate(http_requests_total{status=~"5.."{sel}}[{w}]))'
        " / sum by (server) (rate(http_requests_total{job=\"service\"{sel}}[{w}]))",
        0.45, "ratio", 0.005,
    ),
    Signal(
        "latency", "http_request_duration_seconds",
        "sum by (server) (rate(http_request_duration_seconds_sum{job=\"service\"{sel}}[{w}]))"
        " / sum by (server) (rate(http_request_duration_seconds_count{job=\"service\"{sel}}[{w}]))",
        0.45, "s",
    ),
)  # fmt: skip
"""The default signals; resource signals first."""

BY_NAME = {s.name: s for s in SIGNALS}
