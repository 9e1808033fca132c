"""Robust z-score (streaming median/MAD) and IQR fences over a trailing exponential window."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from openmanager.analytics.detect.base import BoolArray, Detector, FloatArray
from openmanager.analytics.detect.config import DetectorConfig
from openmanager.analytics.detect.stats import RobustParams, robust_step
from openmanager.errors import InvalidInput


@dataclass(frozen=True)
class RobustZConfig(DetectorConfig):
    """Trailing window (samples), direction, and the regime-reset rule."""

    window: int = 288
    direction: str = "both"
    reset_z: float = 6.0
    reset_after: int = 12
    z_half: float = 4.0
    smooth: int = 1

    def validate(self) -> None:
        """Reject out-of-range values."""
        super().validate()
        if self.smooth < 1:
            raise InvalidInput(f"smooth must be >= 1, got {self.smooth}")
        if self.window < 2:
            raise InvalidInput(f"window must be >= 2, got {self.window}")
        if self.direction not in ("both", "up", "down"):
            raise InvalidInput(f"direction must be both, up or down, got {self.direction!r}")

    def params(self) -> RobustParams:
        """Tracker parameters: EW rate 2/(window+1)."""
        return RobustParams(2.0 / (self.window + 1), self.warmup, self.reset_z, self.reset_after)


def smoothed(det: Detector, x: FloatArray, ok: BoolArray, span: int) -> FloatArray:
    """EW mean of x over ``span`` samples (state key "sm"); x itself when span is 1.

    Scoring a short average finds sustained shifts that single noisy samples hide.
    """
    if span <= 1:
        return x
    s = det.state
    if "sm" not in s:
        s["sm"] = np.full(det.n_series, np.nan)
    prev = s["sm"]
    a = 2.0 / (span + 1.0)
    new = np.where(np.isfinite(prev), prev + a * (x - prev), x)
    s["sm"] = np.where(ok, new, prev)
    return np.where(ok, new, x)


def directed(z: FloatArray, direction: str) -> FloatArray:
    """|z|, or only its upward/downward part."""
    if direction == "up":
        return np.maximum(z, 0.0)
    if direction == "down":
        return np.maximum(-z, 0.0)
    return np.abs(z)


class RobustZ(Detector):
    """|x - median| / (1.4826 MAD) with O(1) streaming estimates per series."""

    name = "robust_z"
    config_class = RobustZConfig
    config: RobustZConfig

    def _init_state(self) -> None:
        for key in ("center", "scale", "age", "run"):
            self._zeros(key)
        self._zeros("sm", fill=np.nan)

    def _update(self, x: FloatArray, t: FloatArray, ok: BoolArray) -> FloatArray:
        s = self.state
        x = smoothed(self, x, ok, self.config.smooth)
        z, s["center"], s["scale"], s["age"], s["run"], sigma = robust_step(
            s["center"], s["scale"], s["age"], s["run"], x, ok, self.config.params()
        )
        self.expected, self.band = s["center"], self.config.z_half * sigma
        return directed(z, self.config.direction)


@dataclass(frozen=True)
class IQRConfig(RobustZConfig):
    """Fence multiplier k: outside [Q1 - k IQR, Q3 + k IQR] is anomalous."""

    k: float = 1.5


class IQR(Detector):
    """Distance beyond Tukey's fences in IQR units; quartiles by stochastic approximation."""

    name = "iqr"
    config_class = IQRConfig
    config: IQRConfig

    def _init_state(self) -> None:
        for key in ("q1", "q3", "center", "scale", "age", "run"):
            self._zeros(key)

    def _update(self, x: FloatArray, t: FloatArray, ok: BoolArray) -> FloatArray:
        s, cfg = self.state, self.config
        _, s["center"], s["scale"], s["age"], s["run"], sigma = robust_step(
            s["center"], s["scale"], s["age"], s["run"], x, ok, cfg.params()
        )
        young = s["age"] <= cfg.warmup
        q1, q3 = s["q1"], s["q3"]
        iqr = np.maximum(q3 - q1, 1.349 * sigma * 0.1)
        k = cfg.k
        beyond = np.maximum(np.maximum(q1 - k * iqr - x, x - q3 - k * iqr), 0.0) / iqr
        if cfg.direction == "up":
            beyond = np.maximum(x - q3 - k * iqr, 0.0) / iqr
        elif cfg.direction == "down":
            beyond = np.maximum(q1 - k * iqr - x, 0.0) / iqr
        # quartiles: track center -/+ 0.6745 sigma while young, then quantile SA steps
        step = cfg.params().alpha * 1.349 * sigma
        s["q1"] = np.where(
            young, s["center"] - 0.6745 * sigma, q1 + np.where(ok, step * (0.25 - (x < q1)), 0.0)
        )
        s["q3"] = np.where(
            young, s["center"] + 0.6745 * sigma, q3 + np.where(ok, step * (0.75 - (x < q3)), 0.0)
        )
        self.expected = 0.5 * (q1 + q3)
        self.band = 0.5 * (q3 - q1) + k * iqr
        return np.where(ok & ~young, beyond * 4.0 / 3.0, 0.0)
