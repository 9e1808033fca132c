"""Evidence of an anomaly: which series, when, expected vs observed, who agreed, and PromQL to check it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Evidence:
    """Everything an operator needs to judge (and re-run) one anomaly verdict."""

    series: dict[str, str]
    check: str
    detector: str
    window_start: float
    window_end: float
    expected: float
    lower: float
    upper: float
    observed: float
    score: float
    agreeing: tuple[str, ...]
    promql: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples become lists)."""
        out = asdict(self)
        out["agreeing"] = list(self.agreeing)
        return out

    def describe(self) -> str:
        """One line: what was seen against what was expected."""
        who = self.series.get("server") or self.series.get("instance") or "series"
        return (
            f"{self.check} on {who}: observed {self.observed:.4g}, expected {self.expected:.4g} "
            f"(band {self.lower:.4g}..{self.upper:.4g}), score {self.score:.2f}"
        )


def promql_check(expr: str, expected: float, half_band: float) -> str:
    """A PromQL expression that returns the series exactly while ``expr`` is outside the band."""
    return f"abs(({expr}) - {expected:.6g}) > {half_band:.6g}"
