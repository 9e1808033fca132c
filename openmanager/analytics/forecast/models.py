"""The candidate forecasters: robust line, smoothed level (+trend), and level + seasonal profile.

All fit in a few vectorised passes: the seasonal profile is a per-phase median of the series
minus its moving average over the last seasons (an STL-like robust estimate), the level is simple
exponential smoothing of the deseasonalised series (a linear filter), and the smoothing weight is
chosen by the mean absolute k-step-ahead error over the horizons asked for. The same k-step
errors, out of the fitting window's own history, give the empirical prediction intervals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.signal import lfilter

from openmanager.analytics.forecast.trend import theil_sen
from openmanager.samples import Float64Array, Int64Array

ALPHAS = (0.01, 0.03, 0.08, 0.2, 0.45, 0.75, 1.0)
"""Smoothing weights tried for the level; 1.0 is the last value (random walk)."""
MAX_SEASONS = 8
"""Seasons the profile is estimated from (the most recent ones)."""
TUNE_WINDOW_SEASONS = 4
"""The smoothing weight is tuned on errors over this many recent seasons (or 10 horizons)."""


@dataclass(frozen=True)
class Spec:
    """A candidate: `period` steps of season (0 = none), with or without a trend; or the line."""

    name: str
    period: int = 0
    trend: bool = False
    linear: bool = False


@dataclass
class Fitted:
    """A fitted candidate that can extend itself `k` steps and bound its own k-step errors."""

    spec: Spec
    n: int
    level: float
    slope: float
    alpha: float
    profile: Float64Array
    phase_end: int
    """Absolute phase of the last point (0 when there is no season)."""
    err_k: Int64Array
    err_lo: Float64Array
    err_hi: Float64Array
    params: dict[str, Any] = field(default_factory=dict)

    def predict(self, h: int) -> Float64Array:
        """Mean path for steps 1..h after the last point."""
        k = np.arange(1, h + 1, dtype=np.float64)
        lag = 0.0 if self.spec.linear or self.alpha >= 1 else (1 - self.alpha) / self.alpha
        out = self.level + self.slope * (k + lag)
        if self.spec.period:
            out = out + self.profile[(self.phase_end + np.arange(1, h + 1)) % self.spec.period]
        return out

    def holdout_errors(
        self, y: Float64Array, phase0: int, start: int, ks: Int64Array
    ) -> list[Float64Array]:
        """k-step errors (actual - forecast) from every origin t >= start of the full series y,
        keeping this fit's parameters: out of sample for origins past the fitting window."""
        n = len(y)
        out: list[Float64Array] = []
        if self.spec.linear:
            idx = np.arange(n, dtype=np.float64)
            line = self.level + self.slope * (idx - (self.n - 1))
            for k in ks:
                t = np.arange(start, n - int(k))
                out.append(y[t + k] - line[t + k])
            return out
        p = self.spec.period
        seas = self.profile[(phase0 + np.arange(n)) % p] if p else np.zeros(n)
        lev = _ses(y - seas, self.alpha)
        lag = 0.0 if self.alpha >= 1 else (1 - self.alpha) / self.alpha
        for k in ks:
            t = np.arange(start, n - int(k))
            out.append(y[t + k] - (lev[t] + self.slope * (k + lag) + seas[t + k]))
        return out

    def use_errors(self, ks: Int64Array, errors: list[Float64Array], level: float) -> None:
        """Take the interval from these (out-of-sample) k-step errors instead of in-sample ones."""
        q = ((1 - level) / 2, (1 + level) / 2)
        keep = [j for j, e in enumerate(errors) if len(e) >= 5]
        if not keep:
            return
        qs = np.array([np.quantile(errors[j], q) for j in keep])
        self.err_k = ks[keep]
        self.err_lo, self.err_hi = qs[:, 0], qs[:, 1]
        self.params["interval"] = "out-of-sample errors"

    def bounds(self, h: int) -> tuple[Float64Array, Float64Array]:
        """Offsets (lower <= 0 <= upper) to add to the mean path, widening with the step."""
        k = np.arange(1, h + 1, dtype=np.float64)
        lk = np.log(self.err_k.astype(np.float64))
        lo = np.interp(np.log(k), lk, self.err_lo)
        hi = np.interp(np.log(k), lk, self.err_hi)
        lo = np.minimum.accumulate(np.minimum(lo, 0.0))
        hi = np.maximum.accumulate(np.maximum(hi, 0.0))
        if self.spec.linear:  # slope uncertainty grows linearly with the step
            lo = lo + k * min(self.params["slope_lo"] - self.slope, 0.0)
            hi = hi + k * max(self.params["slope_hi"] - self.slope, 0.0)
        return lo, hi


def horizons(h: int) -> Int64Array:
    """Steps at which k-step errors are measured: 1..h, geometrically spaced."""
    return np.unique(np.geomspace(1, max(h, 1), num=min(h, 8)).round().astype(np.int64))


def seasonal_profile(y: Float64Array, phase0: int, period: int) -> Float64Array:
    """Robust seasonal profile (mean 0): per-phase median of y minus its centred moving average."""
    n = len(y)
    c = np.concatenate([[0.0], np.cumsum(y)])
    half = period // 2
    ma = np.full(n, np.nan)
    if n > period:
        ma[half : half + n - period + 1] = (c[period:] - c[: n - period + 1]) / period
    detr = y - ma
    absidx = phase0 + np.arange(n)
    season_no = absidx // period
    phase = absidx % period
    first = max(int(season_no[-1]) - MAX_SEASONS + 1, int(season_no[0]))
    grid = np.full((int(season_no[-1]) - first + 1, period), np.nan)
    sel = (season_no >= first) & ~np.isnan(detr)
    grid[season_no[sel] - first, phase[sel]] = detr[sel]
    with np.errstate(all="ignore"):
        counts = (~np.isnan(grid)).sum(axis=0)
        prof = np.where(counts > 0, np.nanmedian(np.where(counts > 0, grid, 0.0), axis=0), 0.0)
    w = max(1, period // 48) | 1
    if w > 1:  # circular smoothing: a phase's neighbours share its shape
        ext = np.concatenate([prof[-(w // 2) :], prof, prof[: w // 2]])
        prof = np.convolve(ext, np.ones(w) / w, mode="valid")
    out: Float64Array = prof - prof.mean()
    return out


def _ses(d: Float64Array, alpha: float) -> Float64Array:
    """Exponentially smoothed level after each point (level[t] includes d[t])."""
    if alpha >= 1:
        return d.copy()
    out: Float64Array = lfilter([alpha], [1.0, alpha - 1.0], d, zi=[(1 - alpha) * d[0]])[0]
    return out


def fit(
    y: Float64Array, phase0: int, spec: Spec, h: int, level: float, intervals: bool = True
) -> Fitted:
    """Fit one candidate to y (y[i] at absolute step phase0 + i) for horizons up to h steps.

    Without `intervals` (backtests) the error quantiles are skipped and the bounds are zero.
    """
    n = len(y)
    ks = horizons(h)
    q = ((1 - level) / 2, (1 + level) / 2)
    if spec.linear:
        line = theil_sen(y, level)
        resid = y - (line.intercept + line.slope * np.arange(n))
        lo, hi = np.quantile(resid, q) if intervals else (0.0, 0.0)
        return Fitted(
            spec, n, line.intercept + line.slope * (n - 1), line.slope, 1.0, np.zeros(0), 0,
            ks, np.full(len(ks), lo), np.full(len(ks), hi),
            {"slope_per_step": line.slope, "slope_lo": line.slope_lo, "slope_hi": line.slope_hi},
        )  # fmt: skip
    p = spec.period
    prof = seasonal_profile(y, phase0, p) if p else np.zeros(0)
    d = y - prof[(phase0 + np.arange(n)) % p] if p else y
    slope = 0.0
    if spec.trend:
        recent = d[-max(n // 2, min(n, 2 * p, 12)) :]
        slope = theil_sen(recent, level).slope
    tune = min(n - 1, max(TUNE_WINDOW_SEASONS * p, 10 * h, 50))
    start = n - tune
    best: tuple[float, float, Float64Array] | None = None
    for a in ALPHAS:
        lev = _ses(d, a)
        lag = 0.0 if a >= 1 else (1 - a) / a
        total = 0.0
        for k in ks:
            t = np.arange(max(start - int(k), 0), n - int(k))
            if len(t) == 0:
                continue
            e = d[t + k] - (lev[t] + slope * (k + lag))
            total += float(np.mean(np.abs(e)))
        if best is None or total < best[0]:
            best = (total, a, lev)
    assert best is not None
    _, alpha, lev = best
    lag = 0.0 if alpha >= 1 else (1 - alpha) / alpha
    err_lo = np.zeros(len(ks))
    err_hi = np.zeros(len(ks))
    for j, k in enumerate(ks if intervals else ()):
        t = np.arange(max(start - int(k), 0), n - int(k))
        if len(t) < 2:
            t = np.arange(0, max(n - int(k), 1))
        e = d[np.minimum(t + k, n - 1)] - (lev[t] + slope * (k + lag))
        err_lo[j], err_hi[j] = np.quantile(e, q)
    params: dict[str, Any] = {"alpha": alpha, "slope_per_step": slope}
    if p:
        params["period_steps"] = p
    return Fitted(
        spec, n, float(lev[-1]), slope, alpha, prof, (phase0 + n - 1) % p if p else 0,
        ks, err_lo, err_hi, params,
    )  # fmt: skip
