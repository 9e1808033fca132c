"""Simulated logs over a long range written into a log store, an hour at a time."""

from __future__ import annotations

from collections.abc import Callable

from openmanager.logs.store import LogStore
from openmanager.simulate.logs import HOUR_MS, LogSimulator


def write_logs(
    logs: LogSimulator,
    store: LogStore,
    start_ms: int,
    end_ms: int,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Store every simulated line in [start, end); `progress(ms done, lines)` after each hour.

    Returns the number of lines written. The store's statistics are refreshed at the end.
    """
    total, t = 0, start_ms
    while t < end_ms:
        nxt = min(end_ms, (t // HOUR_MS + 1) * HOUR_MS)
        n = store.add(logs.lines(t, nxt))
        total += n
        if progress is not None:
            progress(nxt - t, n)
        t = nxt
    store.optimize()
    return total
