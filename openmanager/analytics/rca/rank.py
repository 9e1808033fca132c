"""Rank candidate (server, metric) causes of an incident by the evidence gathered in `observe`.

A candidate scores high when its change came first, is large, sits upstream of the other
changed servers in the declared dependencies, and its series moves with theirs; symptoms
(latency, errors, load) and changes that another earlier change explains score lower.
Nothing here knows where a fault was injected: only the series are used.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from openmanager.analytics.rca.observe import (
    DEFAULT_BASELINE_MS,
    DEFAULT_MARGIN_MS,
    Observation,
    RangeQueries,
    Window,
    observe,
)
from openmanager.analytics.rca.signals import SIGNALS, Signal
from openmanager.analytics.rca.topology import Topology

Z_MIN = 6.0
"""A change smaller than this (in baseline sigmas) is not evidence of anything."""
TAU_MS = 10 * 60_000
"""How fast a change that starts after the incident began loses weight."""
GRACE_MS = 2 * 60_000
"""Changes starting up to this long after the incident's start still count as its beginning."""
EXPLAIN_MS = 15 * 60_000
"""A change on a server accounts for another one there starting at most this much earlier."""
WEIGHTS = {"early": 0.35, "size": 0.35, "topology": 0.2, "correlation": 0.10}


@dataclass(frozen=True)
class CauseEvidence:
    """One series that changed: what, when, by how much, and the PromQL that shows it."""

    server: str
    signal: str
    metric: str
    series: dict[str, str]
    promql: str
    window: dict[str, float]
    onset: float | None
    before: float
    after: float
    change: float
    z: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return dict(vars(self))

    def describe(self) -> str:
        """One line: the signal, its move and when it started."""
        return (
            f"{self.signal} on {self.server}: {self.before:.4g} -> {self.after:.4g} "
            f"({self.z:.1f} sigma) from t={self.onset}"
        )


@dataclass(frozen=True)
class Cause:
    """A candidate root cause with its score in [0, 1], the reasons and the evidence."""

    server: str
    metric: str
    score: float
    signal: str = ""
    onset: float | None = None
    reasons: tuple[str, ...] = ()
    evidence: tuple[CauseEvidence, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "server": self.server,
            "metric": self.metric,
            "signal": self.signal,
            "score": round(self.score, 4),
            "onset": self.onset,
            "reasons": list(self.reasons),
            "evidence": [e.to_dict() for e in self.evidence],
        }


def _evidence(o: Observation, window: Window) -> CauseEvidence:
    c = o.change
    return CauseEvidence(
        server=o.server,
        signal=o.signal.name,
        metric=o.signal.metric,
        series=o.labels,
        promql=o.promql,
        window={"start": window.baseline_ms / 1000, "end": window.end_ms / 1000},
        onset=c.onset_ms / 1000 if c.onset_ms is not None else None,
        before=c.before,
        after=c.after,
        change=c.after - c.before,
        z=round(c.z, 2),
    )


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 5:
        return 0.0
    x, y = a[ok], b[ok]
    if np.std(x) == 0 or np.std(y) == 0:
        return 0.0
    return float(abs(np.corrcoef(x, y)[0, 1]))


def _score(
    o: Observation, changed: list[Observation], topo: Topology, window: Window
) -> tuple[float, list[str]]:
    c = o.change
    onset = c.onset_ms if c.onset_ms is not None else window.end_ms
    lag = max(0, onset - window.start_ms - GRACE_MS)
    early = math.exp(-lag / TAU_MS)
    size = min(1.0, math.log1p(c.z) / math.log1p(100.0))
    servers = {x.server for x in changed}
    topo_share = topo.explains(o.server, servers)
    tail = o.times >= window.search_ms
    others = [x for x in changed if x.server != o.server and topo.related(o.server, x.server)]
    corr = max((_corr(o.values[tail], x.values[tail]) for x in others), default=0.0)
    s = (
        WEIGHTS["early"] * early
        + WEIGHTS["size"] * size
        + WEIGHTS["topology"] * topo_share
        + WEIGHTS["correlation"] * corr
    )
    reasons = [f"changed {c.z:.1f} sigma from its baseline"]
    if onset <= window.search_ms:
        s *= 0.7
        reasons.append("was already changing before the incident (a trend, not its start)")
    elif lag == 0:
        reasons.append("changed as the incident began")
    else:
        reasons.append(f"started {lag / 60_000:.1f} min after the incident began")
    if topo_share:
        reasons.append(f"upstream of {topo_share:.0%} of the other changed servers")
    # a change felt downstream of an earlier change elsewhere is a symptom of it
    for x in changed:
        xo = x.change.onset_ms
        if x.server != o.server and xo is not None and xo < onset - 60_000:
            if o.server in topo.affected_by(x.server) and x.signal.prior >= o.signal.prior:
                s *= 0.5
                reasons.append(f"downstream of {x.server}, which changed earlier")
                break
    # on one server, a change that another (not much later) change accounts for is its symptom
    for x in changed:
        xo = x.change.onset_ms
        if x.server == o.server and o.signal.name in x.signal.explains and xo is not None:
            if xo <= onset + EXPLAIN_MS:
                s *= 0.6
                reasons.append(f"accounted for by {x.signal.name} on the same server")
                break
    return s * o.signal.prior, reasons


def rank(observations: Sequence[Observation], topology: Topology, window: Window) -> list[Cause]:
    """Candidate causes from observations, best first (one per server and metric)."""
    changed = [o for o in observations if o.change.changed and o.change.z >= Z_MIN]
    if not changed:
        return []
    best: dict[tuple[str, str], tuple[float, Observation, list[str]]] = {}
    for o in changed:
        s, why = _score(o, changed, topology, window)
        key = (o.server, o.signal.metric)
        if key not in best or s > best[key][0]:
            best[key] = (s, o, why)
    out = []
    for (server, metric), (s, o, why) in best.items():
        support = [x for x in changed if x.server == server and x is not o]
        ev = (_evidence(o, window), *(_evidence(x, window) for x in support))
        onset = o.change.onset_ms / 1000 if o.change.onset_ms is not None else None
        out.append(Cause(server, metric, min(1.0, s), o.signal.name, onset, tuple(why), ev))
    out.sort(key=lambda c: (-c.score, c.server, c.metric))
    return out


def largest_change(observations: Sequence[Observation]) -> list[tuple[str, str]]:
    """Baseline ranking: (server, metric) by the size of their change alone, largest first."""
    seen: dict[tuple[str, str], float] = {}
    for o in observations:
        key = (o.server, o.signal.metric)
        seen[key] = max(seen.get(key, 0.0), o.change.z)
    return [k for k, _ in sorted(seen.items(), key=lambda kv: (-kv[1], kv[0]))]


def rank_causes(
    queries: RangeQueries,
    start_ms: int,
    end_ms: int,
    *,
    topology: Topology | None = None,
    servers: Sequence[str] | None = None,
    step_ms: int | None = None,
    baseline_ms: int = DEFAULT_BASELINE_MS,
    margin_ms: int = DEFAULT_MARGIN_MS,
    signals: Sequence[Signal] = SIGNALS,
    limit: int = 10,
) -> list[Cause]:
    """Ranked causes of an incident that started at `start_ms`, looked at up to `end_ms`.

    `servers` limits the candidates (default: every server with data); `topology` is the
    declared call graph (default: none, so only timing, size and correlation count).
    """
    window = Window.around(start_ms, end_ms, step_ms, baseline_ms, margin_ms)
    obs = observe(queries, window, servers, signals)
    return rank(obs, topology or Topology(), window)[:limit]
