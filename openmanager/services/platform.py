"""The running platform: storage, the simulated fleet and the scheduler, wired from settings.

The API and the CLI hold one `Platform`; nothing else opens storage or starts jobs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from openmanager.config import Settings
from openmanager.services.agent import Agent, LocalSink
from openmanager.services.anomaly import AnomalyService
from openmanager.services.bus import EventBus
from openmanager.services.fleet import FleetService
from openmanager.services.forecast import EXHAUSTION_INTERVAL_S, ForecastService
from openmanager.services.notify import NotifyService
from openmanager.services.query import QueryService
from openmanager.services.rules import RulesService
from openmanager.services.scheduler import Scheduler
from openmanager.services.scrape import ScrapeManager
from openmanager.services.stream import StreamHub
from openmanager.tsdb.factory import open_storage
from openmanager.tsdb.storage import Storage
from openmanager.units import parse_duration

log = logging.getLogger(__name__)

MAINTENANCE_INTERVAL_S = 60.0
"""How often storage compacts, downsamples and applies retention."""


class Platform:
    """Owns the long-lived parts and their start/stop order."""

    def __init__(
        self,
        settings: Settings,
        *,
        storage: Storage | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.storage = storage if storage is not None else open_storage(settings.storage)
        self.queries = QueryService(self.storage)
        self.scheduler = Scheduler(clock)
        self.rules = RulesService(settings.rules, self.storage, clock)
        self.notify = NotifyService(settings.notify, settings.storage.path, clock=clock)
        self.rules.sender = self.notify
        self.bus = EventBus()
        self.streams = StreamHub(self.bus)
        self.anomalies = AnomalyService(self.queries, self.storage, clock, self.bus.publish)
        self.fleet: FleetService | None = (
            FleetService(settings.simulator, self.storage, clock, self.bus.publish)
            if settings.simulator.enabled
            else None
        )
        self.scrape = ScrapeManager(settings.scrape_configs, self.storage, clock)
        self.agent = (
            Agent(settings.agent, LocalSink(self.storage)) if settings.agent.enabled else None
        )
        self._not_ready: str | None = "starting"

    def not_ready_reason(self) -> str | None:
        """None once the platform serves data; otherwise why not yet."""
        return self._not_ready

    async def start(self) -> None:
        """Backfill recent history, then start the periodic jobs."""
        if self.fleet is not None:
            self._not_ready = "simulator is writing recent history"
            await asyncio.to_thread(
                self.fleet.backfill, parse_duration(self.settings.simulator.backfill)
            )
            interval_s = parse_duration(self.settings.simulator.interval) / 1000
            self.scheduler.add("simulator", interval_s, self.fleet.tick)
        self.scheduler.add("storage-maintenance", MAINTENANCE_INTERVAL_S, self.storage.maintain)
        fc = ForecastService(self.queries, self.storage, self.clock)
        self.scheduler.add("forecast-exhaustion", EXHAUSTION_INTERVAL_S, fc.write_exhaustion)
        self.scrape.register(self.scheduler)
        if self.agent is not None:
            agent_s = parse_duration(self.settings.agent.interval) / 1000
            self.scheduler.add("host-agent", agent_s, self.agent.tick)
        self.rules.register(self.scheduler)
        self.anomalies.register(self.scheduler)
        self.notify.register(self.scheduler)
        self.rules.install_sighup()
        self.scheduler.start()
        self._not_ready = None
        log.info("platform started")

    async def stop(self) -> None:
        """Stop jobs, then flush and close storage."""
        self._not_ready = "shutting down"
        await self.scheduler.stop()
        await asyncio.to_thread(self.notify.close)
        await self.streams.stop()
        await self.scrape.stop()
        await asyncio.to_thread(self.storage.close)
        log.info("platform stopped")

    def status(self) -> dict[str, Any]:
        """A summary for `/api/v1/status/jobs` and the CLI."""
        return {
            "ready": self._not_ready is None,
            "reason": self._not_ready,
            "jobs": [vars(s) for s in self.scheduler.status()],
        }
