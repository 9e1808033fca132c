"""RCA benchmark: inject simulator faults of every kind, rank causes, score against ground truth.

Each fault runs in its own short simulation (baseline, then the fault) written at a coarse step
into an in-memory store and read back through the PromQL engine, as the live ranker does. The
ranker gets the incident's start (the fault start plus a random detection delay) and the fleet's
declared dependencies, never the ground truth; two baselines are scored on the same evidence:
the (server, metric) with the largest change, and a random order of all candidates.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

import numpy as np

from openmanager.analytics.rca import Topology, Window, largest_change, observe, rank
from openmanager.config.settings import SimulatorSettings
from openmanager.promql.memstore import MemoryStorage
from openmanager.services.query import QueryService
from openmanager.simulate.scenarios import SCENARIOS
from openmanager.simulate.simulator import Simulator
from openmanager.tsdb.storage import Storage

MIN_MS = 60_000
HOUR_MS = 60 * MIN_MS
DAY_MS = 24 * HOUR_MS
T0_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
METHODS = ("openmanager", "largest_anomaly", "random")


@dataclass(frozen=True)
class Trial:
    """One injected fault and where each method ranked its true root cause (None = not ranked)."""

    scenario: str
    root_server: str
    root_metric: str
    ranks: dict[str, int | None]
    top: dict[str, tuple[str, str] | None]


@dataclass
class Result:
    """All trials and the run time; accuracy per method and scenario."""

    trials: list[Trial] = field(default_factory=list)
    seconds: float = 0.0

    def accuracy(self, method: str, k: int, scenario: str | None = None) -> float:
        """Share of trials (of one scenario, or all) whose true cause is in the method's top k."""
        ts = [t for t in self.trials if scenario is None or t.scenario == scenario]
        if not ts:
            return float("nan")
        hit = sum(1 for t in ts if (r := t.ranks[method]) is not None and r < k)
        return hit / len(ts)


def _rank_of(ranked: list[tuple[str, str]], truth: tuple[str, str]) -> int | None:
    try:
        return ranked.index(truth)
    except ValueError:
        return None


def run_trial(
    i: int,
    scenario: str,
    seed: int,
    *,
    servers: int = 20,
    step_ms: int = MIN_MS,
    horizon_ms: int = 90 * MIN_MS,
) -> Trial:
    """Inject fault number `i` of `scenario` and score the three rankings for it."""
    rng = np.random.default_rng([seed, i])
    sc = SCENARIOS[scenario]
    settings = SimulatorSettings(seed=seed, servers=servers, faults=False, interval="15s")
    # spread faults over different times of day and days of week
    start = T0_MS + i * 7 * HOUR_MS + int(rng.integers(0, 60)) * MIN_MS
    window = Window.around(start + int(rng.integers(0, 6)) * MIN_MS, start + horizon_ms, step_ms)
    sim_start = window.baseline_ms - 10 * MIN_MS
    sim = Simulator(settings, start_ms=sim_start - DAY_MS)
    cands = sc.candidates(sim.fleet)
    root = cands[int(rng.integers(0, len(cands)))]
    fault = sim.trigger(scenario, root.name, at_ms=start)
    store = MemoryStorage()
    # the same hours a day earlier (the ranker's daily reference), then the incident itself
    for lo, hi in (
        (sim_start - DAY_MS, window.end_ms + 1 - DAY_MS),
        (sim_start, window.end_ms + 1),
    ):
        for batch in sim.generate(lo, hi, step_ms):
            store.append(batch)
    topo = Topology({s.name: s.dependencies for s in sim.fleet})
    obs = observe(QueryService(cast(Storage, store)), window)  # no maintenance to do
    truth = (fault.root_server, fault.root_metric)
    ours = [(c.server, c.metric) for c in rank(obs, topo, window)]
    big = largest_change(obs)
    shuffled = list(big)
    rng.shuffle(shuffled)
    ranked = {"openmanager": ours, "largest_anomaly": big, "random": shuffled}
    return Trial(
        scenario,
        fault.root_server,
        fault.root_metric,
        {m: _rank_of(r, truth) for m, r in ranked.items()},
        {m: (r[0] if r else None) for m, r in ranked.items()},
    )


def run(
    faults: int = 200,
    seed: int = 7,
    *,
    servers: int = 20,
    progress: Callable[[int, int], None] | None = None,
) -> Result:
    """`faults` trials cycling through every scenario kind."""
    kinds = sorted(SCENARIOS)
    res = Result()
    t0 = time.perf_counter()
    for i in range(faults):
        res.trials.append(run_trial(i, kinds[i % len(kinds)], seed, servers=servers))
        if progress is not None:
            progress(i + 1, faults)
    res.seconds = time.perf_counter() - t0
    return res
