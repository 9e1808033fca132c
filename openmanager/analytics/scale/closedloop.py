"""A closed-loop week of one scalable group: diurnal load with bursts, replicas that take time to
start, latency from utilisation; our recommendations vs the Kubernetes HPA formula.

HPA: desired = ceil(current * utilisation / target) (10% tolerance), scale-down stabilised over
5 minutes (the highest desired count of the window), scale-up at once.

OpenManager: every `decide_every_min` the recommender forecasts demand over the lead time from
5-minute means (as it would through PromQL); every minute the group is sized for the larger of the
smoothed demand now and that forecast peak (`size_for`: target utilisation, a noise floor under the
objective, demand now at the reactive utilisation for bursts); scale-down waits out the cooldown
(the highest size of the window, like HPA's stabilisation); scale-up at once.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from openmanager.analytics.forecast import Prepared
from openmanager.analytics.scale.recommend import ScalePolicy, noise_sd, recommend, size_for

MIN_MS = 60_000
START_MS = 1_704_067_200_000


@dataclass(frozen=True)
class LoopResult:
    """Cost and service quality of one policy over the run."""

    policy: str
    instance_hours: float
    minutes_above_objective: int
    max_replicas: int


def demand(days: int = 7, seed: int = 1) -> np.ndarray:
    """Busy-instance demand per minute: diurnal + weekday shape + noise + random bursts."""
    rng = np.random.default_rng(seed)
    t = np.arange(days * 1440)
    hour = (t % 1440) / 60
    weekday = (t // 1440) % 7 < 5
    base = 4 + 10 * np.clip(np.sin((hour - 6) / 24 * 2 * np.pi), 0, None) ** 1.5
    base = base * np.where(weekday, 1.0, 0.6) + rng.normal(0, 0.3, len(t))
    bursts = np.zeros(len(t))
    for start in rng.choice(len(t), size=days * 3, replace=False):
        dur = int(rng.integers(10, 40))
        bursts[start : start + dur] += rng.uniform(2, 6)
    out: np.ndarray = np.clip(base + bursts, 0.5, None)
    return out


def latency_ratio(util: np.ndarray | float) -> np.ndarray:
    """Latency over its idle value for a utilisation (M/M/1: 1 / (1 - u), capped)."""
    return 1.0 / (1.0 - np.minimum(util, 0.99))


def _history(load: np.ndarray, m: int, history_min: int) -> Prepared:
    """What the recommender sees at minute m: 5-minute means (as through PromQL), the last
    point being the demand now."""
    hist = load[max(0, m + 1 - history_min) : m + 1]
    k = 5
    cut = len(hist) - len(hist) % k
    if cut < 12 * k:
        return Prepared(START_MS + (m + 1 - len(hist)) * MIN_MS, MIN_MS, hist.astype(np.float64))
    agg = hist[len(hist) - cut :].reshape(-1, k).mean(axis=1)
    agg[-1] = load[m]
    step = k * MIN_MS
    end = START_MS + m * MIN_MS
    return Prepared(end - (len(agg) - 1) * step, step, agg.astype(np.float64))


def run(
    policy_name: str,
    load: np.ndarray,
    *,
    start_replicas: int = 8,
    startup_min: int = 3,
    objective: float = 4.0,
    policy: ScalePolicy | None = None,
    hpa_target: float = 0.6,
    decide_every_min: int = 5,
    history_min: int = 3 * 1440,
) -> LoopResult:
    """Run one policy over the per-minute `load`; latency above `objective` x idle is a miss."""
    pol = policy or ScalePolicy(min_replicas=2, max_replicas=60, max_step=6, cooldown_s=900)
    cooldown_min = max(1, round(pol.cooldown_s / 60))
    ready = start_replicas
    pending: deque[tuple[int, int]] = deque()  # (minute ready, count)
    desired_hist: deque[int] = deque(maxlen=5 if policy_name == "hpa" else cooldown_min)
    fc_peak: float | None = None
    last_change = -(10**9)
    inst_min = misses = peak = 0
    for m in range(len(load)):
        while pending and pending[0][0] <= m:
            ready += pending.popleft()[1]
        util = load[m] / ready
        misses += int(latency_ratio(util) > objective)
        total = ready + sum(c for _, c in pending)
        inst_min += total
        peak = max(peak, total)
        if policy_name == "hpa":
            ratio = util / hpa_target
            want = total if abs(ratio - 1) <= 0.1 else math.ceil(ready * ratio)
            desired_hist.append(want)
            want = max(want, *desired_hist) if want < total else want
        else:
            if m % decide_every_min == 0 and m >= 60:
                fc_peak = recommend(
                    _history(load, m, history_min), total, pol,
                    since_last_change_s=(m - last_change) * 60.0,
                ).forecast_peak  # fmt: skip
            level = float(np.median(load[max(0, m - 4) : m + 1]))
            noise = noise_sd(load[max(0, m - 59) : m + 1])
            want = size_for(level, fc_peak, noise, float(load[m]), pol)
            desired_hist.append(want)
            want = max(want, *desired_hist) if want < total else want  # cooldown window
        want = min(max(want, pol.min_replicas), pol.max_replicas)
        if want > total:
            pending.append((m + startup_min, want - total))
            last_change = m
        elif want < total:
            drop = total - want
            while drop and pending:  # cancel starting instances first
                t_ready, c = pending.pop()
                take = min(c, drop)
                if c - take:
                    pending.append((t_ready, c - take))
                drop -= take
            ready -= drop
            last_change = m
    return LoopResult(policy_name, inst_min / 60, misses, peak)
