"""Adaptive novelty detector for univariate streams (NAB-like data): records, rarity and new shapes.

Three strengths per sample, each from earlier samples only, summed:
- record: how far a short average (at several time scales) leaves the range that average has
  spanned so far, in units of that range (the range forgets slowly);
- rarity: a small weight times the z-score of those averages against their long EW distribution;
- shape: distance of the recent shape to the nearest remembered shape (pattern memory).
A sample is reported only when its strength beats every recent one (a decaying maximum), so a
lasting anomaly is reported once, at its start, and not again while it stays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from openmanager.analytics.detect.base import BoolArray, Detector, FloatArray
from openmanager.analytics.detect.config import DetectorConfig
from openmanager.analytics.detect.patternmem import init_pattern_state, pattern_distance
from openmanager.errors import InvalidInput


@dataclass(frozen=True)
class AdaptiveConfig(DetectorConfig):
    """Time scales (samples) of the averages, memories and weights; ``quiet``: per-sample decay of
    the recent maximum a new report must beat (0.99: about 70 samples to halve)."""

    warmup: int = 150
    scales: tuple[int, ...] = (1, 3, 10, 30)
    memory: int = 1000
    z_weight: float = 0.01
    forget: float = 1e-4
    shape_weight: float = 1.0
    shape_step: int = 4
    shape_length: int = 8
    shape_slots: int = 256
    quiet: float = 0.99

    def validate(self) -> None:
        """Reject out-of-range values."""
        super().validate()
        if not self.scales or min(self.scales) < 1:
            raise InvalidInput(f"scales must be >= 1, got {self.scales}")
        if self.memory < 2 or self.shape_step < 1 or self.shape_length < 1 or self.shape_slots < 1:
            raise InvalidInput("memory >= 2, shape_step, shape_length, shape_slots >= 1")
        if not 0.0 <= self.forget < 0.5 or not 0.0 <= self.quiet < 1.0:
            raise InvalidInput("forget must be in [0, 0.5), quiet in [0, 1)")
        if self.z_weight < 0 or self.shape_weight < 0:
            raise InvalidInput("weights must be >= 0")


class Adaptive(Detector):
    """Novelty of level, rarity and shape, reported once per episode; scores r/(1+r)."""

    name = "adaptive"
    config_class = AdaptiveConfig
    config: AdaptiveConfig

    def _init_state(self) -> None:
        k = len(self.config.scales)
        self._zeros("avg", k, fill=np.nan)
        self._zeros("hi", k, fill=-np.inf)
        self._zeros("lo", k, fill=np.inf)
        self._zeros("mu", k)
        self._zeros("var", k)
        self._zeros("recent")
        cfg = self.config
        init_pattern_state(self, cfg.shape_step, cfg.shape_length, cfg.shape_slots)

    def _update(self, x: FloatArray, t: FloatArray, ok: BoolArray) -> FloatArray:
        cfg, s = self.config, self.state
        seen = s["n_seen"]
        keep = _keeper(ok)
        fresh = bool((seen == 0).any())
        rates = np.array([2.0 / (w + 1.0) for w in cfg.scales])[None, :]
        avg = s["avg"]
        xc = x[:, None]
        moved = avg + rates * (xc - avg)
        avg = keep(np.where(np.isnan(avg), xc, moved) if fresh else moved, avg)
        s["avg"] = avg
        span = _span(s["hi"], s["lo"])
        strength = _record(avg, s["hi"], s["lo"], span)
        strength += cfg.z_weight * self._rarity(avg, keep, seen, fresh)
        if cfg.shape_weight > 0:
            dist = pattern_distance(self, x, ok, span[:, 0], cfg.shape_step, cfg.shape_length)
            strength += cfg.shape_weight * dist
        self._absorb_range(avg, keep)
        strength = np.where(ok & (seen >= cfg.warmup), strength, 0.0)
        recent = s["recent"]
        out = np.where(strength > recent, strength, 0.0)
        s["recent"] = keep(np.maximum(recent * cfg.quiet, strength), recent)
        return out

    def _rarity(self, avg: FloatArray, keep: _Keep, seen: np.ndarray, fresh: bool) -> FloatArray:
        """Largest z of the averages against their EW mean/variance; absorbs them."""
        s = self.state
        mu, var = s["mu"], s["var"]
        d = avg - mu
        sd = np.sqrt(var) + 1e-9 * (1.0 + np.abs(mu))
        z = np.max(np.abs(d) / sd, axis=1)
        rate = np.maximum(1.0 / self.config.memory, 1.0 / (seen + 1.0))[:, None]
        new_mu, new_var = mu + rate * d, (1 - rate) * (var + rate * d * d)
        if fresh:
            first = (seen == 0)[:, None]
            new_mu, new_var = np.where(first, avg, new_mu), np.where(first, 0.0, new_var)
        s["mu"], s["var"] = keep(new_mu, mu), keep(new_var, var)
        return np.asarray(z)

    def _absorb_range(self, avg: FloatArray, keep: _Keep) -> None:
        """Widen the range to the averages, then let it forget (shrink) a little."""
        s = self.state
        hi = keep(np.maximum(s["hi"], avg), s["hi"])
        lo = keep(np.minimum(s["lo"], avg), s["lo"])
        with np.errstate(invalid="ignore"):
            gap = hi - lo
        shrink = np.where(np.isfinite(gap), gap * self.config.forget, 0.0)
        s["hi"], s["lo"] = hi - shrink, lo + shrink
        self.expected = 0.5 * (s["hi"][:, 0] + s["lo"][:, 0])
        self.band = 0.5 * (s["hi"][:, 0] - s["lo"][:, 0])

    def _score(self, raw: FloatArray) -> FloatArray:
        r = np.maximum(raw, 0.0)
        return r / (1.0 + r)


_Keep = Callable[[FloatArray, FloatArray], FloatArray]


def _keeper(ok: BoolArray) -> _Keep:
    """new where ok else old (rows as series, any trailing shape); just new when all are ok."""
    if ok.all():
        return lambda new, old: new
    mask = ok
    return lambda new, old: np.where(mask.reshape(mask.shape + (1,) * (new.ndim - 1)), new, old)


def _span(hi: FloatArray, lo: FloatArray) -> FloatArray:
    """Width of the range seen so far (at least a tiny share of its magnitude); inf before any."""
    with np.errstate(invalid="ignore"):
        width = np.maximum(hi - lo, 1e-3 * (np.abs(hi) + np.abs(lo)) + 1e-12)
    return np.where(np.isfinite(width), width, np.inf)


def _record(avg: FloatArray, hi: FloatArray, lo: FloatArray, span: FloatArray) -> FloatArray:
    """How far each average leaves [lo, hi], in range units; the largest over the scales."""
    with np.errstate(invalid="ignore"):
        out = np.maximum(np.maximum(avg - hi, lo - avg), 0.0) / span
    return np.asarray(np.max(np.where(np.isfinite(out), out, 0.0), axis=1))
