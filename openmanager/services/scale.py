"""Scaling recommendations per group (servers sharing a label, `role` by default) from PromQL.

Demand of a group is its summed CPU busy share ("busy instances"); replicas are the servers
reporting now. Both come through the query engine like every other consumer.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from openmanager.analytics.forecast import ForecastError
from openmanager.analytics.forecast.prepare import prepare
from openmanager.analytics.scale.recommend import Recommendation, ScalePolicy, recommend
from openmanager.errors import InvalidInput, NotFound
from openmanager.samples import labels_get
from openmanager.services.query import QueryService

HISTORY_MS = 3 * 86_400_000
STEP_MS = 300_000
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def demand_expr(group_by: str) -> str:
    """Busy instances of each group: sum over its servers of 1 - idle CPU share."""
    return (
        f"sum by ({group_by}) (1 - avg by ({group_by}, server) "
        '(rate(node_cpu_seconds_total{mode="idle"}[5m])))'
    )


def replicas_expr(group_by: str) -> str:
    """Servers of each group reporting now."""
    return f"count by ({group_by}) (count by ({group_by}, server) (node_load1))"


class ScaleService:
    """Recommendations for every group, with the policy applied to all of them."""

    def __init__(self, queries: QueryService, clock: Callable[[], float] = time.time) -> None:
        self.queries = queries
        self.clock = clock

    def recommend(
        self, policy: ScalePolicy, group_by: str = "role", at_ms: int | None = None
    ) -> list[dict[str, Any]]:
        """One recommendation per group value, as plain data."""
        if not LABEL_NAME.fullmatch(group_by):
            raise InvalidInput(f"group label {group_by!r} is not a valid label name")
        end = int(self.clock() * 1000) if at_ms is None else at_ms
        end -= end % STEP_MS
        hist = self.queries.range(demand_expr(group_by), end - HISTORY_MS, end, STEP_MS)
        now = self.queries.instant(replicas_expr(group_by), end)
        current = {labels_get(s.labels, group_by): int(s.values[0]) for s in now.series}
        if not hist.series:
            raise NotFound(f"no CPU metrics by {group_by!r} in the last 3 days")
        out: list[dict[str, Any]] = []
        for s in hist.series:
            group = labels_get(s.labels, group_by)
            n = current.get(group, 0)
            item: dict[str, Any] = {"group": {group_by: group}}
            try:
                rec: Recommendation = recommend(prepare(s.timestamps, s.values, STEP_MS), n, policy)
                item.update(rec.to_dict())
            except ForecastError as exc:
                item.update({"action": "hold", "current": n, "target": n, "error": exc.message})
            out.append(item)
        return sorted(out, key=lambda d: str(d["group"]))
