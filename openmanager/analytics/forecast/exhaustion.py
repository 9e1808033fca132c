"""Time to exhaustion: when a forecast reaches a threshold (disk free reaching 0, memory ...).

The estimate is where the mean path crosses; the interval is where the pessimistic and the
optimistic bounds cross (for the robust line, where lines with Sen's slope bounds cross). A
bound that never crosses within the horizon is reported as "beyond the horizon", never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from openmanager.analytics.forecast.types import Forecast
from openmanager.samples import Float64Array


@dataclass(frozen=True)
class Exhaustion:
    """Seconds from the last sample until the threshold is reached; None = not within horizon."""

    threshold: float
    direction: str
    """"down" when the value falls to the threshold (free space), "up" when it rises to it."""
    current: float
    seconds: float | None
    lower_seconds: float | None
    upper_seconds: float | None
    level: float
    horizon_seconds: float
    model: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return dict(vars(self))

    def describe(self, what: str = "it") -> str:
        """One line for people: "<what> reaches 0 in 31 h, 80% interval 26-38 h"."""
        if self.seconds is None:
            if self.lower_seconds is not None:
                return (
                    f"{what}: not expected within {_h(self.horizon_seconds)}, but possible from "
                    f"{_h(self.lower_seconds)} ({self.level:.0%} interval)"
                )
            return f"{what}: not within {_h(self.horizon_seconds)} ({self.reason})"
        hi = (
            _h(self.upper_seconds)
            if self.upper_seconds is not None
            else (f">{_h(self.horizon_seconds)}")
        )
        lo = _h(self.lower_seconds if self.lower_seconds is not None else self.seconds)
        return (
            f"{what}: reaches {self.threshold:g} in {_h(self.seconds)}, "
            f"{self.level:.0%} interval {lo} - {hi}"
        )


def _h(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.1f} d"


def _first_cross(
    path: Float64Array, start: float, thr: float, down: bool, dt: float
) -> float | None:
    """Seconds until `path` (one value per dt after `start`) first reaches thr, interpolated."""
    vals = np.concatenate([[start], path])
    hit = vals <= thr if down else vals >= thr
    idx = np.flatnonzero(hit)
    if len(idx) == 0:
        return None
    k = int(idx[0])
    if k == 0:
        return 0.0
    a, b = vals[k - 1], vals[k]
    frac = 1.0 if a == b else float(np.clip((a - thr) / (a - b), 0.0, 1.0))
    return (k - 1 + frac) * dt


def time_to_exhaustion(
    fc: Forecast, current: float, threshold: float, direction: str = "auto"
) -> Exhaustion:
    """When the forecast `fc` of a series now at `current` reaches `threshold`."""
    down = threshold < current if direction == "auto" else direction == "down"
    dirname = "down" if down else "up"
    dt = fc.step_ms / 1000
    horizon = len(fc.mean) * dt
    beyond = (current <= threshold) if down else (current >= threshold)
    if beyond:
        return Exhaustion(
            threshold, dirname, current, 0.0, 0.0, 0.0, fc.level, horizon, fc.model,
            "already at or past the threshold",
        )  # fmt: skip
    if fc.model == "constant":
        return Exhaustion(
            threshold, dirname, current, None, None, None, fc.level, horizon, fc.model,
            f"the series is constant at {current:g}",
        )  # fmt: skip
    pessimistic, optimistic = (fc.lower, fc.upper) if down else (fc.upper, fc.lower)
    if fc.model == "linear":  # trend uncertainty only: lines with the slope's bounds
        slope = fc.params["slope_per_step"]
        k = np.arange(1, len(fc.mean) + 1)
        steep, flat = (
            (fc.params["slope_lo"], fc.params["slope_hi"])
            if down
            else (fc.params["slope_hi"], fc.params["slope_lo"])
        )
        pessimistic = fc.mean + k * (steep - slope)
        optimistic = fc.mean + k * (flat - slope)
    est = _first_cross(fc.mean, current, threshold, down, dt)
    lo = _first_cross(pessimistic, current, threshold, down, dt)
    hi = _first_cross(optimistic, current, threshold, down, dt)
    if est is None:
        reason = f"the forecast stays {'above' if down else 'below'} {threshold:g}"
    else:
        reason = f"{fc.model} forecast crosses {threshold:g}"
    return Exhaustion(threshold, dirname, current, est, lo, hi, fc.level, horizon, fc.model, reason)
