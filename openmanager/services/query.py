"""PromQL queries for every consumer (API, CLI, rules, analytics): one engine over the storage."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

from prometheus_client import Counter, Histogram

from openmanager.promql.engine import Engine, QueryResult
from openmanager.tsdb.storage import Storage

log = logging.getLogger(__name__)

QUERY_SECONDS = Histogram("openmanager_query_duration_seconds", "PromQL evaluation time.", ["kind"])
QUERY_CACHE = Counter(
    "openmanager_query_cache_total",
    "Instant queries of the HTTP API by cache outcome.",
    ["outcome"],
)


class InstantCache:
    """Instant query results by (expression, time) while the stored data is unchanged.

    Dashboards and load balancers send the same expression many times a second; between two
    writes the answer at one time cannot differ. Works with a storage that counts its changes
    (`generation`, the embedded TSDB); with any other backend nothing is cached.
    """

    def __init__(self, storage: Storage, max_entries: int = 1024) -> None:
        self._storage = storage
        self._max = max_entries
        self._entries: dict[tuple[str, int], tuple[int, QueryResult]] = {}
        self._lock = threading.Lock()

    def generation(self) -> int | None:
        """The storage's change counter now; None when it keeps none (no caching)."""
        gen = getattr(self._storage, "generation", None)
        return gen if isinstance(gen, int) else None

    def get(self, expr: str, time_ms: int) -> QueryResult | None:
        """The cached answer, if the data has not changed since it was computed."""
        hit = self._entries.get((expr, time_ms))
        if hit is None or hit[0] != self.generation():
            return None
        return hit[1]

    def put(self, expr: str, time_ms: int, generation: int, result: QueryResult) -> None:
        """Remember `result`, computed from data at `generation` (read before evaluating)."""
        with self._lock:
            if len(self._entries) >= self._max:
                self._entries.clear()  # simple bound; entries of old generations are dead anyway
            self._entries[(expr, time_ms)] = (generation, result)


class QueryService:
    """Instant and range queries, timed and logged when slow."""

    SLOW_QUERY_S = 5.0

    def __init__(
        self, storage: Storage, *, lookback_delta_ms: int = 300_000, timeout_s: float = 120.0
    ) -> None:
        self.engine = Engine(storage, lookback_delta_ms, timeout_s=timeout_s)
        self.cache = InstantCache(storage)
        self._pending: dict[tuple[str, int], asyncio.Future[QueryResult]] = {}

    async def shared_instant(self, expr: str, time_ms: int) -> QueryResult:
        """`cached_instant` in a worker thread, one evaluation for concurrent equal requests.

        Without it every client polling "now" misses together when the second turns and
        the evaluations queue behind each other; the waiters hold no thread.
        """
        key = (expr, time_ms)
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(asyncio.to_thread(self.cached_instant, expr, time_ms))
            self._pending[key] = pending
            pending.add_done_callback(lambda _: self._pending.pop(key, None))
        return await asyncio.shield(pending)  # one client leaving does not cancel the others'

    def peek(self, expr: str, time_ms: int) -> QueryResult | None:
        """The cached answer of `expr` at one time, if still valid (cheap: no evaluation)."""
        hit = self.cache.get(expr, time_ms)
        if hit is not None:
            QUERY_CACHE.labels("hit").inc()
        return hit

    def cached_instant(self, expr: str, time_ms: int) -> QueryResult:
        """`expr` at one time, from the cache when the data has not changed since.

        The result is shared: callers must not modify it.
        """
        hit = self.peek(expr, time_ms)
        if hit is not None:
            return hit
        QUERY_CACHE.labels("miss").inc()
        generation = self.cache.generation()  # before evaluating: a write meanwhile invalidates
        result = self.instant(expr, time_ms)
        if generation is not None:
            self.cache.put(expr, time_ms, generation, result)
        return result

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
