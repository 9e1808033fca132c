"""Saturation: a noisy series that stops moving at the edge of its recent range (pinned or stuck)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from openmanager.analytics.detect.base import BoolArray, Detector, FloatArray
from openmanager.analytics.detect.config import DetectorConfig
from openmanager.errors import InvalidInput


@dataclass(frozen=True)
class SaturationConfig(DetectorConfig):
    """``window``: samples over which the typical change and the recent range are learned;
    ``edge``: share of that range counted as its top (or bottom); ``strength``: the raw,
    z-like strength of a sample that repeats the previous one exactly at the edge; ``moving``:
    share of samples (EW over the window) that must differ from the one before; ``min_run``:
    exact repeats in a row before scoring (small counts repeat by chance now and then)."""

    window: int = 1000
    direction: str = "both"
    edge: float = 0.02
    strength: float = 12.0
    moving: float = 0.99
    min_run: int = 3
    z_half: float = 6.0

    def validate(self) -> None:
        """Reject out-of-range values."""
        super().validate()
        if self.window < 2 or not 0.0 < self.edge < 1.0 or self.strength <= 0 or self.min_run < 1:
            raise InvalidInput(
                "saturation: need window >= 2, 0 < edge < 1, strength > 0 and min_run >= 1"
            )
        if self.direction not in ("both", "up", "down"):
            raise InvalidInput(f"direction must be both, up or down, got {self.direction!r}")


class Saturation(Detector):
    """Scores ``strength`` while a series that usually changes every sample repeats its value
    exactly at the top (up), bottom (down) or either edge of its recent range: a CPU pinned at
    100 %, a gauge stuck at its limit. Noise never repeats a value, so this is a near-certain sign."""

    name = "saturation"
    config_class = SaturationConfig
    config: SaturationConfig

    def _init_state(self) -> None:
        for key in ("typ", "moving", "age", "run"):
            self._zeros(key)
        for key in ("prev", "hi", "lo"):
            self._zeros(key, fill=np.nan)

    def _update(self, x: FloatArray, t: FloatArray, ok: BoolArray) -> FloatArray:
        s, cfg = self.state, self.config
        a = np.maximum(1.0 / np.maximum(s["age"], 1.0), 2.0 / (cfg.window + 1.0))
        have = ok & np.isfinite(s["prev"])
        step = np.where(have, np.abs(x - s["prev"]), 0.0)
        scale = 1e-9 * np.maximum(np.abs(x), 1e-300)
        flat = have & (step <= scale)
        hi, lo = np.fmax(s["hi"], x), np.fmin(s["lo"], x)
        span = np.where(np.isfinite(hi - lo), hi - lo, 0.0)
        near_hi = x >= hi - cfg.edge * span
        near_lo = x <= lo + cfg.edge * span
        edge = {"up": near_hi, "down": near_lo}.get(cfg.direction, near_hi | near_lo)
        # a series that repeats a value now and then (small integer counts) is never "stuck"
        usual = (s["moving"] >= cfg.moving) & (s["typ"] > 1e-6 * np.abs(x))
        s["run"] = np.where(ok, np.where(flat & edge, s["run"] + 1.0, 0.0), s["run"])
        stuck = flat & edge & usual & (s["run"] >= cfg.min_run)
        # share of samples that move and their typical change, learned outside stuck spells
        learn = have & ~stuck
        s["moving"] = np.where(learn, s["moving"] + a * ((~flat) - s["moving"]), s["moving"])
        s["typ"] = np.where(learn & ~flat, s["typ"] + a * (step - s["typ"]), s["typ"])
        # the range forgets over the window: decays toward the other edge
        decay = span / cfg.window
        s["hi"] = np.where(ok, hi - decay, s["hi"])
        s["lo"] = np.where(ok, lo + decay, s["lo"])
        s["prev"] = np.where(ok, x, s["prev"])
        s["age"] = s["age"] + ok
        self.expected, self.band = s["prev"], s["typ"] * 3.0
        return np.where(stuck, cfg.strength, 0.0)
