"""Failure-risk scores per server through the query engine, with the factors behind each score."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from openmanager.analytics.risk.factors import FACTORS
from openmanager.analytics.risk.model import RiskModel
from openmanager.errors import NotFound
from openmanager.samples import Float64Array, Int64Array, labels_get
from openmanager.services.query import QueryService


@dataclass
class ServerRisk:
    """One server's score and the factors that raised it."""

    server: str
    score: float
    factors: dict[str, float]
    reasons: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {
            "server": self.server,
            "score": round(self.score, 4),
            "factors": self.factors,
            "reasons": self.reasons,
        }


class RiskService:
    """Evaluates every factor for every server, at one time or over a range."""

    def __init__(
        self,
        queries: QueryService,
        model: RiskModel | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.queries = queries
        self.model = model or RiskModel()
        self.clock = clock

    def factor_matrix(
        self, start_ms: int, end_ms: int, step_ms: int
    ) -> tuple[list[str], Int64Array, dict[str, Float64Array]]:
        """(servers, steps, factor name -> [server, step] scores in 0..1) over a range."""
        steps = np.arange(start_ms, end_ms + 1, step_ms, dtype=np.int64)
        raw: dict[str, dict[str, Float64Array]] = {}
        servers: set[str] = set()
        for f in FACTORS:
            res = self.queries.range(f.expr, start_ms, end_ms, step_ms)
            per: dict[str, Float64Array] = {}
            for s in res.series:
                name = labels_get(s.labels, "server")
                row = np.full(len(steps), np.nan)
                row[np.searchsorted(steps, s.timestamps)] = s.values
                per[name] = row
                servers.add(name)
            raw[f.name] = per
        names = sorted(servers)
        out = {}
        for f in FACTORS:
            m = np.full((len(names), len(steps)), np.nan)
            for i, n in enumerate(names):
                if n in raw[f.name]:
                    m[i] = raw[f.name][n]
            out[f.name] = f.scale(m)
        return names, steps, out

    def scores(self, at_ms: int | None = None) -> list[ServerRisk]:
        """Every server's risk at `at_ms` (default now), highest first."""
        t = int(self.clock() * 1000) if at_ms is None else at_ms
        names, _, mats = self.factor_matrix(t, t, 60_000)
        if not names:
            raise NotFound("no server has metrics at that time (nothing to score)")
        flat = {k: v[:, 0] for k, v in mats.items()}
        score = self.model.score(flat)
        out = []
        for i, n in enumerate(names):
            row = {k: round(float(v[i]), 3) for k, v in flat.items()}
            out.append(ServerRisk(n, float(score[i]), row, self.model.explain(row)))
        return sorted(out, key=lambda r: -r.score)
