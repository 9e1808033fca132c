"""Results of forecasting: the path with its interval, the chosen model and its evidence."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from openmanager.samples import Float64Array, Int64Array


@dataclass(frozen=True)
class Prepared:
    """A series on a regular grid: value i is at `start_ms + i * step_ms`; gaps already filled."""

    start_ms: int
    step_ms: int
    values: Float64Array
    filled: int = 0
    """How many missing grid points were filled by linear interpolation."""
    notes: tuple[str, ...] = ()

    @property
    def end_ms(self) -> int:
        """Timestamp of the last point."""
        return self.start_ms + (len(self.values) - 1) * self.step_ms

    @property
    def span_ms(self) -> int:
        """Time covered, first to last point plus one step."""
        return len(self.values) * self.step_ms


@dataclass(frozen=True)
class Backtest:
    """Out-of-sample error of one candidate model over rolling origins (mean absolute error)."""

    model: str
    mae: float
    origins: int


@dataclass
class Forecast:
    """A forecast path after the last observed point, with a central prediction interval."""

    timestamps: Int64Array
    mean: Float64Array
    lower: Float64Array
    upper: Float64Array
    level: float
    """Coverage of [lower, upper], e.g. 0.8."""
    model: str
    params: dict[str, Any] = field(default_factory=dict)
    backtests: list[Backtest] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    history_start_ms: int = 0
    history_end_ms: int = 0
    step_ms: int = 0
    fit_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (times in seconds, as Prometheus's API)."""
        return {
            "model": self.model,
            "params": self.params,
            "level": self.level,
            "step_seconds": self.step_ms / 1000,
            "history": {"start": self.history_start_ms / 1000, "end": self.history_end_ms / 1000},
            "backtests": [vars(b) for b in self.backtests],
            "notes": self.notes,
            "fit_seconds": round(self.fit_seconds, 4),
            "points": [
                [t / 1000, float(m), float(lo), float(hi)]
                for t, m, lo, hi in zip(
                    self.timestamps, self.mean, self.lower, self.upper, strict=True
                )
            ],
        }


@dataclass(frozen=True)
class Decomposition:
    """Trend, seasonal and residual parts of a series (they sum to the filled series)."""

    timestamps: Int64Array
    observed: Float64Array
    trend: Float64Array
    seasonal: Float64Array
    residual: Float64Array
    period_ms: int
