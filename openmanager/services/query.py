"""PromQL queries for every consumer (API, CLI, rules, analytics): one engine over the storage."""

from __future__ import annotations

import logging
import time

from prometheus_client import Histogram

from openmanager.promql.engine import Engine, QueryResult
from openmanager.tsdb.storage import Storage

log = logging.getLogger(__name__)

QUERY_SECONDS = Histogram("openmanager_query_duration_seconds", "PromQL evaluation time.", ["kind"])


class QueryService:
    """Instant and range queries, timed and logged when slow."""

    SLOW_QUERY_S = 5.0

    def __init__(
        self, storage: Storage, *, lookback_delta_ms: int = 300_000, timeout_s: float = 120.0
    ) -> None:
        self.engine = Engine(storage, lookback_delta_ms, timeout_s=timeout_s)

    def instant(self, expr: str, time_ms: int) -> QueryResult:
        """`expr` evaluated at one time."""
        started = time.perf_counter()
        try:
            return self.engine.instant_query(expr, time_ms)
        finally:
            self._observe("instant", expr, started)

    def range(self, expr: str, start_ms: int, end_ms: int, step_ms: int) -> QueryResult:
        """`expr` evaluated at every step of [start, end]."""
        started = time.perf_counter()
        try:
            return self.engine.range_query(expr, start_ms, end_ms, step_ms)
        finally:
            self._observe("range", expr, started)

    def _observe(self, kind: str, expr: str, started: float) -> None:
        elapsed = time.perf_counter() - started
        QUERY_SECONDS.labels(kind).observe(elapsed)
        if elapsed > self.SLOW_QUERY_S:
            log.warning("slow %s query (%.1f s): %s", kind, elapsed, expr)
