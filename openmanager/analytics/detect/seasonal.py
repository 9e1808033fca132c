"""Seasonal baseline: streaming STL-like decomposition (trend + same-slot profile), robust z of the residual."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from openmanager.analytics.detect.base import BoolArray, Detector, FloatArray
from openmanager.analytics.detect.robust import RobustZConfig, directed, smoothed
from openmanager.analytics.detect.stats import robust_step
from openmanager.errors import InvalidInput


@dataclass(frozen=True)
class SeasonalConfig(RobustZConfig):
    """Period (seconds: 86400 = same time yesterday, 604800 = last week), slots per period, rates."""

    period: float = 86400.0
    slots: int = 96
    season_rate: float = 0.3
    trend_window: int = 2016


class SeasonalBaseline(Detector):
    """Residual of x after a slow trend and a per-slot seasonal profile, scored as a robust z.

    The profile of slot s is an EW mean over past periods of (x - trend) at that time of day
    (or week), so the expected value is "the same time yesterday", smoothed across days;
    slots never seen fall back to the trend alone.
    """

    name = "seasonal"
    config_class = SeasonalConfig
    config: SeasonalConfig

    def _init_state(self) -> None:
        cfg = self.config
        if cfg.slots < 1 or cfg.period <= 0:
            raise InvalidInput("seasonal: slots must be >= 1 and period > 0")
        self._zeros("profile", cfg.slots)
        self._zeros("seen", cfg.slots)
        for key in ("trend", "tage", "center", "scale", "age", "run"):
            self._zeros(key)
        self._zeros("sm", fill=np.nan)

    def _update(self, x: FloatArray, t: FloatArray, ok: BoolArray) -> FloatArray:
        s, cfg = self.state, self.config
        x = smoothed(self, x, ok, cfg.smooth)
        phase = np.mod(np.where(ok, t, 0.0), cfg.period) * (cfg.slots / cfg.period)
        slot = np.minimum(phase.astype(np.int64), cfg.slots - 1)
        flat = np.arange(self.n_series) * cfg.slots + slot
        profile, seen = s["profile"].reshape(-1), s["seen"].reshape(-1)
        cur, count = profile[flat], seen[flat]
        known = count > 0
        prof = np.where(known, cur, 0.0)
        trend = np.where(s["tage"] > 0, s["trend"], x)
        expected = trend + prof
        resid = x - expected
        z, s["center"], s["scale"], s["age"], s["run"], sigma = robust_step(
            s["center"], s["scale"], s["age"], s["run"], resid, ok, self.config.params()
        )
        # absorb: residual clipped at 3 sigma so one outlier barely moves the baseline
        lim = 3.0 * sigma
        step = np.where(s["age"] <= cfg.warmup, resid, np.minimum(np.maximum(resid, -lim), lim))
        ta = np.maximum(1.0 / (s["tage"] + 1.0), 2.0 / (cfg.trend_window + 1))
        s["trend"] = np.where(ok, trend + ta * step, s["trend"])
        s["tage"] = s["tage"] + ok
        detr = x - s["trend"]
        moved = prof + cfg.season_rate * np.minimum(np.maximum(detr - prof, -lim), lim)
        profile[flat] = np.where(ok, np.where(known, moved, detr), cur)
        seen[flat] = count + ok
        self.expected, self.band = expected + s["center"], cfg.z_half * sigma
        return np.where(known, directed(z, cfg.direction), 0.0)
