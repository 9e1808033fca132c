"""Streaming robust location/scale per series (approximate EW median/MAD with regime resets)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from openmanager.analytics.detect.base import BoolArray, FloatArray

MAD_PER_MEAN_ABS_DEV = 0.6745 / 0.7979  # Gaussian ratio: MAD = 0.845 * mean absolute deviation
SIGMA_PER_MAD = 1.4826


@dataclass(frozen=True)
class RobustParams:
    """Rate, warm-up, reset rule and scale floor of a robust tracker."""

    alpha: float
    warmup: int
    reset_z: float
    reset_after: int
    floor_rel: float = 1e-6
    floor_abs: float = 1e-9


def robust_step(
    center: FloatArray,
    scale: FloatArray,
    age: FloatArray,
    run: FloatArray,
    x: FloatArray,
    ok: BoolArray,
    p: RobustParams,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Signed z of x against (center, scale), then the updated (center, scale, age, run) and sigma.

    Location is an EW Huber estimate (clipped at 3 MADs), scale an EW mean of winsorised
    absolute deviations scaled to a MAD; cumulative averages during warm-up. ``reset_after``
    consecutive points beyond ``reset_z`` restart the tracker (a regime change, re-learned).
    """
    sigma = SIGMA_PER_MAD * np.maximum(scale, p.floor_abs + p.floor_rel * np.abs(center))
    dev = x - center
    young = age < p.warmup
    z = np.where(ok & ~young, dev / sigma, 0.0)
    far = ok & (np.abs(z) > p.reset_z)
    run = np.where(ok, np.where(far, run + 1.0, 0.0), run)
    restart = run >= p.reset_after
    age = np.where(restart, 0.0, age)
    run = np.where(restart, 0.0, run)
    young = age < p.warmup
    a = np.where(young, 1.0 / (age + 1.0), p.alpha)
    step = np.where(young, dev, sigma * np.clip(dev / sigma, -3.0, 3.0))
    new_center = center + np.where(ok, a * step, 0.0)
    adev = np.where(age == 0, 0.0, np.abs(dev))
    adev = np.where(young, adev, np.minimum(adev, 3.0 * sigma))
    new_scale = scale + np.where(ok, a * (MAD_PER_MEAN_ABS_DEV * adev - scale), 0.0)
    return z, new_center, new_scale, age + ok, run, sigma
