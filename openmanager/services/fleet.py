"""The simulated fleet as a live data source: backfill, one tick per interval, latest state.

Each tick's batch goes into storage (the same path every source uses); the latest snapshot
is kept for the fleet endpoint and the text exposition that a real Prometheus can scrape.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson

from openmanager.config.settings import SimulatorSettings
from openmanager.errors import NotFound
from openmanager.simulate.faults import FaultRecord
from openmanager.simulate.simulator import Simulator
from openmanager.tsdb.matchers import eq
from openmanager.tsdb.storage import Storage
from openmanager.units import parse_duration

log = logging.getLogger(__name__)

PROBE_METRIC = "node_load1"
"""A metric every simulated server has; its latest stored sample tells where history ends."""


class FleetService:
    """Drives the simulator and feeds storage."""

    def __init__(
        self,
        settings: SimulatorSettings,
        storage: Storage,
        clock: Callable[[], float] = time.time,
        publish: Callable[[str, dict[str, Any]], object] | None = None,
    ) -> None:
        self.settings = settings
        self._publish = publish
        self.storage = storage
        self._clock = clock
        self._lock = threading.Lock()
        self._version = 0
        self._rendered: tuple[int, bytes] | None = None
        interval = parse_duration(settings.interval)
        now = self._clock_ms()
        start = now - parse_duration(settings.backfill)
        self.simulator = Simulator(
            settings, start_ms=start - start % interval, clock=self._clock_ms
        )

    def _clock_ms(self) -> int:
        return int(self._clock() * 1000)

    def backfill(self, duration_ms: int) -> int:
        """Write simulated history for the last `duration_ms` that storage does not have yet."""
        sim = self.simulator
        now = self._clock_ms()
        after = max(sim.start_ms, now - duration_ms, self._stored_until() + 1)
        first = sim.start_ms + -(-(after - sim.start_ms) // sim.interval_ms) * sim.interval_ms
        written = 0
        if first > now:
            return written
        with self._lock:
            for batch in sim.generate(first, now + 1):
                self.storage.append(batch)
                written += len(batch)
            self._version += 1
        if written:
            log.info("simulator backfilled %d samples from %d to %d", written, first, now)
        return written

    def _stored_until(self) -> int:
        """Latest timestamp of the fleet already in storage (or -1)."""
        horizon = self._clock_ms()
        found = self.storage.select(
            [eq("__name__", PROBE_METRIC)], self.simulator.start_ms, horizon
        )
        return max((int(s.timestamps[-1]) for s in found if len(s.timestamps)), default=-1)

    def tick(self) -> None:
        """Scrapes of the whole fleet due since the last one (on the interval grid) into storage."""
        with self._lock:
            results = [self.storage.append(batch) for batch in self.simulator.advance()]
            if results:
                self._version += 1
        if results and self._publish is not None:
            self.publish_latest()
        for result in results:
            if result.rejected:
                log.warning(
                    "simulator: %d samples rejected: %s", result.rejected, result.errors[:3]
                )

    def publish_latest(self) -> None:
        """Announce the latest figures on the `server-metrics` and `system-status` channels."""
        if self._publish is None:
            return
        snap = self.fleet()
        self._publish("server-metrics", {"time_ms": snap["time_ms"], "servers": snap["servers"]})
        self._publish("system-status", {"time_ms": snap["time_ms"], "summary": snap["summary"]})

    def trigger(self, scenario: str, server: str | None = None) -> dict[str, Any]:
        """Inject a fault scenario now (on `server`, or the scenario's usual root)."""
        with self._lock:
            self._version += 1
            return self.simulator.trigger(scenario, server).to_dict()

    def fleet(self) -> dict[str, Any]:
        """Servers with their latest figures and status, plus fleet totals."""
        with self._lock:
            return self.simulator.snapshot().to_dict()

    def fleet_response(self) -> bytes:
        """`{"status": "success", "data": fleet()}` as JSON bytes, rendered once per tick.

        The fleet summary is the most polled endpoint (dashboards, load balancers); between
        two ticks every request gets the same bytes.
        """
        cached = self._rendered
        if cached is not None and cached[0] == self._version:
            return cached[1]
        with self._lock:
            version = self._version
            data = self.simulator.snapshot().to_dict()
        body = orjson.dumps({"status": "success", "data": data}, option=orjson.OPT_SERIALIZE_NUMPY)
        self._rendered = (version, body)
        return body

    def server(self, name: str) -> dict[str, Any]:
        """One server's latest figures, or NotFound."""
        for server in self.fleet()["servers"]:
            if server["name"] == name:
                return dict(server)
        raise NotFound(f"no server named {name!r} in the fleet")

    def exposition(self, server: str | None = None) -> str:
        """The latest value of every series in the Prometheus text format (optionally one server)."""
        with self._lock:
            return self.simulator.exposition(server)

    def faults_between(self, start_ms: int, end_ms: int) -> list[FaultRecord]:
        """Faults under way at some time in [start, end] (what the simulated logs describe)."""
        with self._lock:
            return self.simulator.faults_between(start_ms, end_ms)

    def last_time_ms(self) -> int | None:
        """Time of the latest simulated sample, None before the first."""
        with self._lock:
            return self.simulator.last_time_ms

    def ground_truth(self) -> dict[str, Any]:
        """Every fault injected so far."""
        with self._lock:
            return self.simulator.ground_truth().to_dict()
