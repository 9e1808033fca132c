"""Seasonal baseline: streaming STL-like decomposition (trend + same-slot profile), robust z of the residual."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from openmanager.analytics.detect.base import BoolArray, Detector, FloatArray
from openmanager.analytics.detect.robust import RobustZConfig, directed, smoothed
from openmanager.analytics.detect.stats import robust_step
from openmanager.errors import InvalidInput


@dataclass(frozen=True)
class SeasonalConfig(RobustZConfig):
    """Period (seconds: 86400 = same time yesterday, 604800 = last week), slots per period, rates;
    ``full_period``: score only once a whole period has been seen. ``recurring``: a deviation beyond
    ``reset_z`` that this slot also showed in one of the two previous periods (log rotation or a
    batch job at a fixed time, falling inside a slot) is expected: the score is scaled down by
    the larger of those two periods' peaks over ``reset_z``. ``per_visit``: ``season_rate`` is
    the weight of one period's visit of a slot, spread over the samples that fall in it (after
    the slot's first period), instead of the weight of each sample: a fault lasting minutes (a
    spike, the start of a leak) barely moves the profile, so it keeps scoring while it lasts."""

    period: float = 86400.0
    slots: int = 96
    season_rate: float = 0.3
    trend_window: int = 2016
    full_period: bool = True
    recurring: bool = False
    per_visit: bool = False


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
        self._zeros("since", cfg.slots)  # 1 + index of the period a slot was first seen; 0 never
        for key in ("trend", "tage", "center", "scale", "age", "run"):
            self._zeros(key)
        self._zeros("sm", fill=np.nan)
        if cfg.per_visit:  # time of the last sample, to know the samples per slot
            self._zeros("last_t", fill=np.nan)
        if cfg.recurring:  # per slot: period of the last visit, its peak, the two before
            for key in ("visit", "peak0", "peak1", "peak2"):
                self._zeros(key, cfg.slots)

    def _update(self, x: FloatArray, t: FloatArray, ok: BoolArray) -> FloatArray:
        s, cfg = self.state, self.config
        x = smoothed(self, x, ok, cfg.smooth)
        tt = np.where(ok, t, 0.0)
        period_no = np.floor_divide(tt, cfg.period) + 1.0
        phase = np.mod(tt, cfg.period) * (cfg.slots / cfg.period)
        slot = np.minimum(phase.astype(np.int64), cfg.slots - 1)
        flat = np.arange(self.n_series) * cfg.slots + slot
        profile, since = s["profile"].reshape(-1), s["since"].reshape(-1)
        cur, first = profile[flat], since[flat]
        seen = first > 0
        if cfg.full_period:  # a slot seen a full period ago at least: "the same time yesterday"
            known = seen & (first < period_no)
            learn = ok & known
        else:  # any slot seen before (within the first period too: a profile still forming)
            known, learn = seen, ok
        prof = np.where(seen, cur, 0.0)
        trend = np.where(s["tage"] > 0, s["trend"], x)
        expected = trend + prof
        resid = x - expected
        # with full_period, the residual's scale is learned only on slots with a profile from an
        # earlier period: the first period's residuals (trend only) are not the ones scored later
        z, s["center"], s["scale"], s["age"], s["run"], sigma = robust_step(
            s["center"], s["scale"], s["age"], s["run"], resid, learn, self.config.params()
        )
        # absorb: residual clipped at 3 sigma so one outlier barely moves the baseline
        young = s["age"] <= cfg.warmup
        step = np.where(young, resid, np.minimum(np.maximum(resid, -3.0 * sigma), 3.0 * sigma))
        # the profile may move freely while the residual scale is still unknown (full_period)
        lim = np.where(young & cfg.full_period, np.inf, 3.0 * sigma)
        ta = np.maximum(1.0 / (s["tage"] + 1.0), 2.0 / (cfg.trend_window + 1))
        s["trend"] = np.where(ok, trend + ta * step, s["trend"])
        s["tage"] = s["tage"] + ok
        detr = x - s["trend"]
        rate = self._season_rate(t, ok, first == period_no)
        moved = prof + rate * np.minimum(np.maximum(detr - prof, -lim), lim)
        profile[flat] = np.where(ok, np.where(seen, moved, detr), cur)
        since[flat] = np.where(ok & ~seen, period_no, first)
        self.expected, self.band = expected + s["center"], cfg.z_half * sigma
        strength = np.where(known, directed(z, cfg.direction), 0.0)
        if cfg.recurring:
            strength = self._beyond_recurring(strength, flat, period_no, ok & known)
        return strength

    def _season_rate(self, t: FloatArray, ok: BoolArray, first_visit: BoolArray) -> FloatArray:
        """Profile learning rate per sample: ``season_rate``, or its share of a slot (per_visit)."""
        cfg = self.config
        if not cfg.per_visit:
            return np.full(self.n_series, cfg.season_rate)
        last = self.state["last_t"]
        dt = np.where(np.isfinite(last), t - last, np.inf)
        self.state["last_t"] = np.where(ok, t, last)
        share = np.clip(dt * cfg.slots / cfg.period, 0.0, 1.0)
        return np.where(first_visit, cfg.season_rate, cfg.season_rate * share)

    def _beyond_recurring(
        self, strength: FloatArray, flat: NDArray[np.int64], period_no: FloatArray, seen: BoolArray
    ) -> FloatArray:
        """Strength relative to a large deviation this slot showed in one of the two previous periods."""
        s, cfg = self.state, self.config
        visit, peak0 = s["visit"].reshape(-1), s["peak0"].reshape(-1)
        peak1, peak2 = s["peak1"].reshape(-1), s["peak2"].reshape(-1)
        last, p0, p1, p2 = visit[flat], peak0[flat], peak1[flat], peak2[flat]
        new = seen & (last != period_no)  # first sample of this slot in this period
        follows = last == period_no - 1  # the last visit was the previous period
        p2 = np.where(new, np.where(follows, p1, 0.0), p2)
        p1 = np.where(new, np.where(follows, p0, 0.0), p1)
        p0 = np.where(new, 0.0, p0)
        tol = np.maximum(np.maximum(p1, p2), cfg.reset_z)
        visit[flat] = np.where(seen, period_no, last)
        peak0[flat] = np.where(seen, np.maximum(p0, strength), p0)
        peak1[flat], peak2[flat] = p1, p2
        # a repeat of the recurring peak scores reset_z (not far); twice that peak, twice as much
        out: FloatArray = strength * (cfg.reset_z / tol)
        return out
