"""Scaling recommendations: predictive scale-up ahead of a rise, cooldown, limits, cost."""

from __future__ import annotations

import numpy as np
import pytest

from openmanager.analytics.forecast import Prepared
from openmanager.analytics.scale.closedloop import demand, latency_ratio
from openmanager.analytics.scale.recommend import ScalePolicy, noise_sd, recommend, size_for

STEP = 300_000
T0 = 1_704_067_200_000


def _prep(values: np.ndarray) -> Prepared:
    return Prepared(T0, STEP, values.astype(np.float64))


def test_rising_demand_scales_up_before_it_arrives() -> None:
    rng = np.random.default_rng(0)
    y = 4 + 0.05 * np.arange(600) + rng.normal(0, 0.05, 600)  # +0.6 busy instances per hour
    pol = ScalePolicy(target_utilization=0.7, lead_s=3600, max_step=10, cost_per_instance_hour=0.5)
    current = int(np.ceil(y[-1] / 0.7))
    reactive_only = recommend(_prep(y), current, pol, predictive=False)
    rec = recommend(_prep(y), current, pol)
    assert reactive_only.action == "hold"
    assert rec.action == "scale up" and rec.target > current
    assert rec.cost_change_per_hour == (rec.target - current) * 0.5
    assert any("forecast" in r for r in rec.reasons)


def test_scale_down_waits_for_cooldown_and_respects_limits() -> None:
    y = np.full(600, 2.0) + np.random.default_rng(1).normal(0, 0.02, 600)
    pol = ScalePolicy(min_replicas=3, max_step=2, cooldown_s=600)
    held = recommend(_prep(y), 10, pol, since_last_change_s=60)
    assert held.action == "hold" and any("cooldown" in r for r in held.reasons)
    down = recommend(_prep(y), 10, pol)
    assert down.action == "scale down" and down.target == 8  # max step 2
    floor = recommend(_prep(y), 4, pol)
    assert floor.target == 3  # min replicas


def test_too_short_history_falls_back_to_reactive() -> None:
    rec = recommend(
        _prep(np.array([3.0, 2.9, 3.1, 3.0, 3.0])), 2, ScalePolicy(target_utilization=0.5)
    )
    assert rec.target == 6 and any("reactive only" in r for r in rec.reasons)


def test_closed_loop_load_has_daily_shape_and_bursts() -> None:
    load = demand(2, seed=3)
    assert len(load) == 2 * 1440 and load.min() >= 0.5
    day = load[:1440]
    assert day[13 * 60 : 15 * 60].mean() > 2 * day[0:120].mean()
    assert float(latency_ratio(0.75)) == 4.0


def test_noise_floor_keeps_a_small_group_under_the_objective() -> None:
    rng = np.random.default_rng(4)
    y = 2.4 + rng.normal(0, 0.3, 600)  # a small, noisy group
    pol = ScalePolicy(target_utilization=0.63, max_utilization=0.75, max_step=10)
    assert noise_sd(y) == pytest.approx(0.3, rel=0.25)
    plain = recommend(_prep(y), 4, ScalePolicy(target_utilization=0.63, max_step=10))
    floored = recommend(_prep(y), 4, pol)
    assert floored.target > plain.target
    assert any("noise floor" in r for r in floored.reasons)
    assert floored.forecast_peak is not None
    # the floor covers demand + 3 noise at 75%: a 3-sigma noise tick stays under the objective
    assert (2.4 + 3 * 0.3) / floored.target <= 0.75 + 1e-9


def test_size_for_takes_the_forecast_peak_and_bursts() -> None:
    pol = ScalePolicy(target_utilization=0.6, reactive_utilization=0.7)
    assert size_for(6.0, None, 0.0, 6.0, pol) == 10
    assert size_for(6.0, 9.0, 0.0, 6.0, pol) == 15  # forecast peak ahead of a ramp
    assert size_for(6.0, 6.0, 0.0, 14.0, pol) == 20  # burst now, at the reactive utilisation
