"""``adaptive_day``: the adaptive detector plus day-lag novelty (today against the same time
yesterday), reported once per episode as ``adaptive`` does. The default of ``openmanager detect``
and the NAB benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass

from openmanager.analytics.detect.adaptive import Adaptive, AdaptiveConfig
from openmanager.analytics.detect.base import BoolArray, FloatArray
from openmanager.analytics.detect.daylag import daylag_strength, init_daylag_state
from openmanager.errors import InvalidInput


@dataclass(frozen=True)
class AdaptiveDayConfig(AdaptiveConfig):
    """Adaptive settings (reports fade a little faster) plus the day-lag member: weight, history
    cap (samples), smoothing, forget."""

    quiet: float = 0.985
    day_weight: float = 0.5
    day_cap: int = 300
    day_smooth: int = 12
    day_forget: float = 1e-4

    def validate(self) -> None:
        """Reject out-of-range values."""
        super().validate()
        if self.day_weight < 0 or self.day_cap < 1 or self.day_smooth < 1:
            raise InvalidInput("day_weight >= 0, day_cap >= 1, day_smooth >= 1")
        if not 0.0 <= self.day_forget < 0.5:
            raise InvalidInput("day_forget must be in [0, 0.5)")


class AdaptiveDay(Adaptive):
    """Adaptive novelty plus day-lag novelty; scores r/(1+r)."""

    name = "adaptive_day"
    config_class = AdaptiveDayConfig
    config: AdaptiveDayConfig

    def _init_state(self) -> None:
        super()._init_state()
        init_daylag_state(self, self.config.day_cap)

    def _update(self, x: FloatArray, t: FloatArray, ok: BoolArray) -> FloatArray:
        cfg, s = self.config, self.state
        strength = self._strength(x, ok)
        span = s["hi"][:, 0] - s["lo"][:, 0]
        day = daylag_strength(self, x, t, ok, span, cfg.day_smooth, cfg.day_forget)
        return self._report(strength + cfg.day_weight * day, ok)
