"""Grades for the API load test: throughput, p99 latency and error rate against stated thresholds.

A is the production target of the fleet summary (>= 2,000 req/s with p99 < 50 ms); each
lower grade relaxes every threshold. A result gets the best grade whose three thresholds it
all meets, F when it meets none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Threshold:
    """What a grade needs: at least `min_rps`, p99 under `max_p99_ms`, errors at most `max_error_pct`."""

    grade: str
    min_rps: float
    max_p99_ms: float
    max_error_pct: float

    def describe(self) -> str:
        return (
            f"{self.grade}: >= {self.min_rps:,.0f} req/s, p99 < {self.max_p99_ms:,.0f} ms, "
            f"errors <= {self.max_error_pct}%"
        )


THRESHOLDS = (
    Threshold("A", 2000, 50, 0.1),
    Threshold("B", 1000, 100, 0.5),
    Threshold("C", 500, 250, 1.0),
    Threshold("D", 100, 1000, 5.0),
)
"""Best first; anything below D is F."""


@dataclass(frozen=True)
class EndpointResult:
    """What the load generator measured for one endpoint (or the total)."""

    name: str
    requests: int
    failures: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    @property
    def error_pct(self) -> float:
        return 100.0 * self.failures / self.requests if self.requests else 100.0

    def grade(self) -> str:
        return grade(self.rps, self.p99_ms, self.error_pct)

    def to_json(self) -> dict[str, Any]:
        return {**vars(self), "error_pct": round(self.error_pct, 3), "grade": self.grade()}


def grade(rps: float, p99_ms: float, error_pct: float) -> str:
    """The best grade whose thresholds the figures meet (F if none)."""
    for t in THRESHOLDS:
        if rps >= t.min_rps and p99_ms < t.max_p99_ms and error_pct <= t.max_error_pct:
            return t.grade
    return "F"
