"""Change-point detection: two-sided CUSUM on robustly standardised values, restarted after an alarm."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from openmanager.analytics.detect.base import BoolArray, Detector, FloatArray
from openmanager.analytics.detect.robust import RobustZConfig
from openmanager.analytics.detect.stats import robust_step
from openmanager.errors import InvalidInput


@dataclass(frozen=True)
class CusumConfig(RobustZConfig):
    """Slack k (in sigmas) absorbed per sample and the decision interval h (in sigmas)."""

    k: float = 0.5
    h: float = 8.0
    z_half: float = 1.0

    def validate(self) -> None:
        """Reject out-of-range values."""
        super().validate()
        if self.k < 0 or self.h <= 0:
            raise InvalidInput("cusum: k must be >= 0 and h > 0")


class Cusum(Detector):
    """Page's CUSUM: raw strength is the cumulative drift in units of h (1.0 = a change point)."""

    name = "cusum"
    config_class = CusumConfig
    config: CusumConfig

    def _init_state(self) -> None:
        for key in ("center", "scale", "age", "run", "gp", "gn"):
            self._zeros(key)

    def _update(self, x: FloatArray, t: FloatArray, ok: BoolArray) -> FloatArray:
        s, cfg = self.state, self.config
        z, s["center"], s["scale"], s["age"], s["run"], sigma = robust_step(
            s["center"], s["scale"], s["age"], s["run"], x, ok, cfg.params()
        )
        zc = np.clip(z, -cfg.h, cfg.h)
        gp = np.where(ok, np.maximum(0.0, s["gp"] + zc - cfg.k), s["gp"])
        gn = np.where(ok, np.maximum(0.0, s["gn"] - zc - cfg.k), s["gn"])
        if cfg.direction == "up":
            g = gp
        elif cfg.direction == "down":
            g = gn
        else:
            g = np.maximum(gp, gn)
        alarm = g >= cfg.h
        # after an alarm the new level is learned afresh (age 0) and the sums restart
        s["gp"], s["gn"] = np.where(alarm, 0.0, gp), np.where(alarm, 0.0, gn)
        s["age"] = np.where(alarm, 0.0, s["age"])
        self.expected, self.band = s["center"], cfg.h * sigma
        return g / cfg.h
