"""One recommendation for a scalable group: scale up / down / hold, target replicas, confidence,
reasons and cost change, honouring min/max replicas, a maximum step and a cooldown.

Demand is in "busy instances" (e.g. summed CPU busy share of the group, or requests / capacity per
instance): replicas needed = demand / target utilisation. The predictive part sizes for the upper
bound of the forecast over the lead time (how long a new instance takes to help); the reactive part
for the demand now. Scale-down waits for the cooldown and never goes below either.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from openmanager.analytics.forecast import ForecastError, Prepared, forecast_prepared
from openmanager.errors import InvalidInput
from openmanager.samples import Float64Array


@dataclass(frozen=True)
class ScalePolicy:
    """Limits and economics of one group."""

    min_replicas: int = 1
    max_replicas: int = 100
    max_step: int = 4
    cooldown_s: float = 600.0
    target_utilization: float = 0.7
    lead_s: float = 900.0
    """Horizon the predictive part sizes for (start-up time plus one decision interval)."""
    cost_per_instance_hour: float = 0.10
    reactive_utilization: float | None = None
    """Utilisation the reactive part sizes for (default: the target); higher than the target
    lets the forecast's upper bound carry the headroom instead of a fixed margin."""
    max_utilization: float | None = None
    """Utilisation at which the latency objective breaks (e.g. 0.75 for 4x idle latency, M/M/1).
    When set, replicas also cover demand + `noise_z` short-term noise at it: small groups, whose
    proportional headroom is thinner than their noise, get a floor that keeps them under it."""
    noise_z: float = 3.0

    @classmethod
    def for_target(cls, target: float, **limits: Any) -> ScalePolicy:
        """A policy sizing the forecast peak at `target` utilisation and demand now at 5 points
        more (the CLI's and API's policy); `limits` are the other fields."""
        if not 0 < target < 1:
            raise InvalidInput(f"target utilisation must be between 0 and 1, got {target}")
        lo, hi = int(limits.get("min_replicas", 1)), int(limits.get("max_replicas", 100))
        if lo < 0 or hi < max(lo, 1):
            raise InvalidInput(
                f"replica limits must satisfy 0 <= min <= max, max >= 1; got {lo}..{hi}"
            )
        if int(limits.get("max_step", 4)) < 1:
            raise InvalidInput("max step must be at least 1")
        cost = float(limits.get("cost_per_instance_hour", 0.0))
        if not (math.isfinite(cost) and cost >= 0):
            raise InvalidInput(f"cost per instance-hour must be a finite number >= 0, got {cost}")
        return cls(
            target_utilization=target, reactive_utilization=min(0.95, target + 0.05), **limits
        )


@dataclass
class Recommendation:
    """What to do with one group, and why."""

    action: str
    current: int
    target: int
    confidence: float
    reasons: list[str] = field(default_factory=list)
    cost_change_per_hour: float = 0.0
    forecast_peak: float | None = None
    """Mean forecast demand at its peak over the lead time (None without a forecast)."""

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return dict(vars(self))


def demand_upper(prep: Prepared, lead_s: float, level: float = 0.8) -> tuple[float, float, str]:
    """(upper bound, mean) of the demand forecast's peak over the lead time, and the model."""
    step_s = prep.step_ms / 1000
    horizon_ms = max(prep.step_ms, int(math.ceil(lead_s / step_s)) * prep.step_ms)
    fc = forecast_prepared(prep, horizon_ms, level=level)
    return float(np.max(fc.upper)), float(np.max(fc.mean)), fc.model


def noise_sd(values: Float64Array) -> float:
    """Short-term noise of a demand series: robust (MAD) spread of its first differences / sqrt 2,
    so slow ramps and rare jumps do not count as noise."""
    if len(values) < 4:
        return 0.0
    mad = float(np.median(np.abs(np.diff(values))))
    return mad / 0.6745 / math.sqrt(2)


def size_for(
    level: float, peak: float | None, noise: float, now: float, policy: ScalePolicy
) -> int:
    """Replicas for demand `level` (smoothed, now) and forecast `peak` over the lead time: the
    larger of the two at the target utilisation, a noise floor under the objective (when
    `max_utilization` is set), and demand `now` at the reactive utilisation (bursts)."""
    tu = policy.target_utilization
    ru = policy.reactive_utilization or tu
    base = max(level, peak if peak is not None else level, 0.0)
    need = max(base / tu, max(now, 0.0) / ru)
    if policy.max_utilization:
        need = max(need, (base + policy.noise_z * noise) / policy.max_utilization)
    return math.ceil(need - 1e-9)


def recommend(
    prep: Prepared,
    current: int,
    policy: ScalePolicy,
    *,
    since_last_change_s: float = math.inf,
    predictive: bool = True,
) -> Recommendation:
    """Recommendation for a group running `current` replicas with demand history `prep`."""
    now = float(prep.values[-1])
    tu = policy.target_utilization
    ru = policy.reactive_utilization or tu
    reactive = math.ceil(max(now, 0.0) / ru - 1e-9)
    reasons = [f"demand now {now:.2f} busy instances -> {reactive} replicas at {ru:.0%} target"]
    confidence = 0.5
    desired = reactive
    peak: float | None = None
    if predictive:
        try:
            upper, mean, model = demand_upper(prep, policy.lead_s)
            pred = math.ceil(max(upper, 0.0) / tu - 1e-9)
            reasons.append(
                f"forecast ({model}) peak over the next {policy.lead_s / 60:.0f} min: "
                f"{mean:.2f}, 80% upper {upper:.2f} -> {pred} replicas"
            )
            desired = max(desired, pred)
            peak = mean
            confidence = float(np.clip(1 - (upper - mean) / max(abs(mean), 1e-9), 0.05, 0.99))
        except ForecastError as exc:
            reasons.append(f"no forecast ({exc.message}); reactive only")
    if policy.max_utilization:
        noise = noise_sd(prep.values[-12:])
        floor = size_for(now, peak, noise, now, policy)
        if floor > desired:
            reasons.append(
                f"noise floor: demand +{policy.noise_z:g} x noise {noise:.2f} at "
                f"{policy.max_utilization:.0%} -> {floor} replicas"
            )
            desired = floor
    lo, hi = policy.min_replicas, policy.max_replicas
    target = min(max(desired, lo), hi)
    if target != desired:
        reasons.append(f"clamped to [{lo}, {hi}] replicas")
    if target < current and since_last_change_s < policy.cooldown_s:
        reasons.append(
            f"scale-down held: last change {since_last_change_s / 60:.0f} min ago, "
            f"cooldown {policy.cooldown_s / 60:.0f} min"
        )
        target = current
    step = target - current
    if abs(step) > policy.max_step:
        target = current + policy.max_step * (1 if step > 0 else -1)
        reasons.append(f"limited to a step of {policy.max_step}")
    action = "scale up" if target > current else "scale down" if target < current else "hold"
    return Recommendation(
        action, current, target, round(confidence, 2), reasons,
        round((target - current) * policy.cost_per_instance_hour, 4), peak,
    )  # fmt: skip
