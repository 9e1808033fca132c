"""Named pattern detectors for server metrics, built from the generic ones."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from openmanager.analytics.detect.base import BoolArray, Detector, FloatArray
from openmanager.analytics.detect.changepoint import Cusum, CusumConfig
from openmanager.analytics.detect.robust import RobustZ, RobustZConfig
from openmanager.analytics.detect.stats import robust_step
from openmanager.errors import InvalidInput


@dataclass(frozen=True)
class CpuSpikeConfig(RobustZConfig):
    """Upward deviations only, against a 1-hour (at 15 s) trailing window; a spike needs a floor."""

    window: int = 240
    direction: str = "up"
    z_half: float = 6.0
    min_jump: float = 10.0


class CpuSpike(RobustZ):
    """CPU (percent) jumping well above its recent level, by at least ``min_jump`` points."""

    name = "cpu_spike"
    config_class = CpuSpikeConfig
    config: CpuSpikeConfig

    def _update(self, x: FloatArray, t: FloatArray, ok: BoolArray) -> FloatArray:
        center = self.state["center"].copy()
        z = super()._update(x, t, ok)
        return np.where(x - center >= self.config.min_jump, z, 0.0)


@dataclass(frozen=True)
class MemoryLeakConfig(RobustZConfig):
    """Window (samples) of the trend fit and the share of rising steps a leak needs.

    ``direction`` "down" watches a sustained decline instead (free memory, free disk); "both"
    either."""

    window: int = 60
    rising: float = 0.6
    z_half: float = 8.0
    direction: str = "up"


class MemoryLeak(Detector):
    """Sustained monotonic growth: t-statistic of an EW linear trend, gated on mostly rising steps."""

    name = "memory_leak"
    config_class = MemoryLeakConfig
    config: MemoryLeakConfig

    def _init_state(self) -> None:
        for key in ("mt", "mx", "mtt", "mtx", "mxx", "up", "prev", "t0", "age"):
            self._zeros(key)

    def _update(self, x: FloatArray, t: FloatArray, ok: BoolArray) -> FloatArray:
        s, cfg = self.state, self.config
        a = np.where(ok, np.maximum(1.0 / (s["age"] + 1.0), 2.0 / (cfg.window + 1)), 0.0)
        s["t0"] = np.where(s["age"] == 0, t, s["t0"])
        tt = np.where(ok, t - s["t0"], 0.0)
        for key, v in (("mt", tt), ("mx", x), ("mtt", tt * tt), ("mtx", tt * x), ("mxx", x * x)):
            s[key] = s[key] + a * (v - s[key])
        rose = np.where(s["age"] > 0, (x > s["prev"]).astype(np.float64), 0.5)
        s["up"] = s["up"] + a * (rose - s["up"])
        s["prev"] = np.where(ok, x, s["prev"])
        s["age"] = s["age"] + ok
        vt = np.maximum(s["mtt"] - s["mt"] ** 2, 1e-12)
        cov = s["mtx"] - s["mt"] * s["mx"]
        vx = np.maximum(s["mxx"] - s["mx"] ** 2, 0.0)
        slope = cov / vt
        resid = np.maximum(vx - slope * cov, 1e-12 * (1.0 + vx))
        n_eff = np.minimum(s["age"], float(cfg.window))
        tstat = slope * np.sqrt(vt * np.maximum(n_eff - 2.0, 0.0) / resid)
        self.expected, self.band = s["mx"], np.sqrt(vx) * 3.0
        full = s["age"] >= cfg.window
        grows = np.where(full & (s["up"] >= cfg.rising) & (slope > 0), tstat, 0.0)
        shrinks = np.where(full & (s["up"] <= 1.0 - cfg.rising) & (slope < 0), -tstat, 0.0)
        if cfg.direction == "up":
            return grows
        if cfg.direction == "down":
            return shrinks
        return np.maximum(grows, shrinks)


@dataclass(frozen=True)
class DiskAnomalyConfig(CusumConfig):
    """Fill rate (per second) change point, upward: a disk filling faster than it used to."""

    direction: str = "up"
    window: int = 120
    h: float = 10.0
    z_half: float = 1.0
    sudden_z: float = 8.0


class DiskAnomaly(Cusum):
    """CUSUM on the fill rate (used bytes or percent, differenced), plus sudden single-step fills."""

    name = "disk_anomaly"
    config_class = DiskAnomalyConfig
    config: DiskAnomalyConfig

    def _init_state(self) -> None:
        super()._init_state()
        for key in ("prev", "prev_t", "have"):
            self._zeros(key)

    def _update(self, x: FloatArray, t: FloatArray, ok: BoolArray) -> FloatArray:
        s = self.state
        dt = t - s["prev_t"]
        good = ok & (s["have"] > 0) & (dt > 0)
        rate = np.where(good, (x - s["prev"]) / np.where(good, dt, 1.0), 0.0)
        s["prev"], s["prev_t"] = np.where(ok, x, s["prev"]), np.where(ok, t, s["prev_t"])
        s["have"] = np.maximum(s["have"], ok)
        center, scale = s["center"].copy(), s["scale"].copy()
        g = super()._update(rate, t, good)
        sigma = 1.4826 * np.maximum(scale, 1e-9 + 1e-6 * np.abs(center))
        sudden = np.where(good & (s["age"] > self.config.warmup), (rate - center) / sigma, 0.0)
        return np.maximum(g, np.maximum(sudden, 0.0) / self.config.sudden_z)


@dataclass(frozen=True)
class NetworkAnomalyConfig(RobustZConfig):
    """Byte/packet counters scored as rates, in log space (traffic is multiplicative)."""

    counter: bool = True
    window: int = 240
    z_half: float = 5.0


class NetworkAnomaly(RobustZ):
    """Robust z of log1p(rate): surges and drops of traffic; counter resets are not anomalies."""

    name = "network_anomaly"
    config_class = NetworkAnomalyConfig
    config: NetworkAnomalyConfig

    def _update(self, x: FloatArray, t: FloatArray, ok: BoolArray) -> FloatArray:
        return super()._update(np.log1p(np.maximum(x, 0.0)), t, ok)


@dataclass(frozen=True)
class CompositeConfig(RobustZConfig):
    """Series per group (one server's metrics, consecutive) and how many must deviate together."""

    group: int = 4
    min_agree: int = 2
    agree_z: float = 3.0
    z_half: float = 4.0

    def validate(self) -> None:
        """Reject out-of-range values."""
        super().validate()
        if self.group < 1 or not 1 <= self.min_agree <= self.group:
            raise InvalidInput("composite_anomaly: need group >= 1 and 1 <= min_agree <= group")


class CompositeAnomaly(Detector):
    """Several metrics of one server off at once: RMS robust z of the group, gated on agreement."""

    name = "composite_anomaly"
    config_class = CompositeConfig
    config: CompositeConfig

    def _init_state(self) -> None:
        if self.n_series % self.config.group:
            raise InvalidInput(
                f"n_series {self.n_series} not a multiple of group {self.config.group}"
            )
        for key in ("center", "scale", "age", "run"):
            self._zeros(key)

    def _update(self, x: FloatArray, t: FloatArray, ok: BoolArray) -> FloatArray:
        s, cfg = self.state, self.config
        z, s["center"], s["scale"], s["age"], s["run"], sigma = robust_step(
            s["center"], s["scale"], s["age"], s["run"], x, ok, cfg.params()
        )
        g = np.abs(z).reshape(-1, cfg.group)
        agree = (g >= cfg.agree_z).sum(axis=1) >= cfg.min_agree
        rms = np.sqrt(np.mean(g * g, axis=1))
        self.expected, self.band = s["center"], cfg.z_half * sigma
        return np.repeat(np.where(agree, rms, 0.0), cfg.group)
