"""Failure-risk factors per server, each a PromQL expression mapped onto 0..1.

Every factor reads through the query engine, so the same definitions serve the live score and
the calibration on simulator history (a range query gives every time step at once).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from openmanager.samples import Float64Array


@dataclass(frozen=True)
class Factor:
    """One contributor: `expr` gives a value per server; (lo, hi) maps it linearly onto 0..1."""

    name: str
    expr: str
    lo: float
    hi: float
    describe: str

    def scale(self, raw: Float64Array) -> Float64Array:
        """Raw values onto 0..1 (missing -> 0: no evidence of trouble)."""
        out = np.clip((np.nan_to_num(raw, nan=self.lo) - self.lo) / (self.hi - self.lo), 0.0, 1.0)
        return np.asarray(out, dtype=np.float64)


HOURS = 3600.0
FACTORS: tuple[Factor, ...] = (
    Factor(
        "cpu_saturation",
        'max by (server) (1 - avg by (server) (rate(node_cpu_seconds_total{mode="idle"}[5m])))',
        0.7, 0.98, "CPU busy share",
    ),
    Factor(
        "memory_saturation",
        "max by (server) (1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)",
        0.8, 0.97, "memory used share",
    ),
    Factor(
        "disk_saturation",
        "max by (server) (1 - node_filesystem_avail_bytes / node_filesystem_size_bytes)",
        0.8, 0.98, "fullest filesystem used share",
    ),
    Factor(
        "disk_fill_trend",
        "-min by (server) (node_filesystem_avail_bytes"
        " / clamp_min(-deriv(node_filesystem_avail_bytes[30m]), 1e-9)) / 3600",
        -48.0, -1.0, "hours until a filesystem is full at its 30 min trend (negated)",
    ),
    Factor(
        "memory_growth_trend",
        "-min by (server) (node_memory_MemAvailable_bytes"
        " / clamp_min(-deriv(node_memory_MemAvailable_bytes[30m]), 1e-9)) / 3600",
        -48.0, -1.0, "hours until memory is exhausted at its 30 min trend (negated)",
    ),
    Factor(
        "latency_anomaly",
        "max by (server) ((rate(http_request_duration_seconds_sum[5m])"
        " / rate(http_request_duration_seconds_count[5m]))"
        " / (rate(http_request_duration_seconds_sum[6h])"
        " / rate(http_request_duration_seconds_count[6h])))",
        1.2, 4.0, "mean latency vs its 6 h average",
    ),
    Factor(
        "error_ratio",
        'sum by (server) (rate(http_requests_total{status=~"5.."}[5m]))'
        " / sum by (server) (rate(http_requests_total[5m]))",
        0.02, 0.2, "share of 5xx responses",
    ),
    Factor(
        "service_down",
        "1 - min by (server) (min_over_time(openmanager_service_up[10m]))",
        0.0, 1.0, "service down in the last 10 min",
    ),
    Factor(
        "firing_alerts",
        'count by (server) (ALERTS{alertstate="firing"})',
        0.0, 3.0, "firing alerts",
    ),
)  # fmt: skip
