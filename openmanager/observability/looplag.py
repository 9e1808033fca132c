"""How late the event loop wakes up: the time every request waits behind other work.

Background jobs run in worker threads but share the GIL with the event loop; a job step
that holds it (a long NumPy call, a pure-Python loop between switch points) delays every
request at once. A probe that sleeps briefly and measures its overshoot shows those stalls
as `openmanager_event_loop_lag_seconds`, beside the HTTP latency histograms.
"""

from __future__ import annotations

import asyncio

from prometheus_client import Histogram

from openmanager.observability.metrics import FAST_BUCKETS

LOOP_LAG_SECONDS = Histogram(
    "openmanager_event_loop_lag_seconds",
    "How much later than asked the event loop woke a 10 ms sleep (GIL and loop stalls).",
    buckets=FAST_BUCKETS,
)
PROBE_SLEEP_S = 0.01


async def probe_loop_lag() -> None:
    """One probe: sleep `PROBE_SLEEP_S` and observe the overshoot."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.sleep(PROBE_SLEEP_S)
    LOOP_LAG_SECONDS.observe(max(0.0, loop.time() - started - PROBE_SLEEP_S))
