"""The running platform: storage, the simulated fleet and the scheduler, wired from settings.

The API and the CLI hold one `Platform`; nothing else opens storage or starts jobs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import orjson

from openmanager.analytics.rca import Topology
from openmanager.bus.redis_link import RedisLink, new_instance_id
from openmanager.config import Settings
from openmanager.errors import Unavailable
from openmanager.export.registry import create_exporter
from openmanager.export.runner import ExportRunner
from openmanager.knowledge.base import KnowledgeBase
from openmanager.meta.db import MetaDB, open_meta
from openmanager.meta.inventory import ServerRecord, record_servers
from openmanager.notify.store import SqlNotifyStore
from openmanager.observability.dependencies import Dependencies
from openmanager.observability.looplag import probe_loop_lag
from openmanager.rules.apijson import alerts_json
from openmanager.security.keys import KeyStore
from openmanager.security.secrets import reveal
from openmanager.services.agent import Agent, LocalSink
from openmanager.services.alert_events import AlertEvents
from openmanager.services.anomaly import AnomalyService
from openmanager.services.anomaly_store import AnomalyStore
from openmanager.services.assistant import AssistantService, incidents_of, interaction_store
from openmanager.services.bus import EventBus
from openmanager.services.fleet import FleetService
from openmanager.services.forecast import EXHAUSTION_INTERVAL_S, ForecastService
from openmanager.services.incidents import IncidentService
from openmanager.services.ingest import RemoteWriteReceiver
from openmanager.services.leader import LeaderElection
from openmanager.services.logs import LogService
from openmanager.services.models import ModelService
from openmanager.services.notify import NotifyService
from openmanager.services.query import QueryService
from openmanager.services.rules import RulesService
from openmanager.services.scheduler import Scheduler
from openmanager.services.scrape import ScrapeManager
from openmanager.services.stream import StreamHub
from openmanager.simulate.logs import LogSimulator
from openmanager.tsdb.factory import open_storage
from openmanager.tsdb.storage import Storage
from openmanager.units import parse_duration

log = logging.getLogger(__name__)

MAINTENANCE_INTERVAL_S = 60.0
LOOP_LAG_INTERVAL_S = 0.1
"""How often the event loop's wake-up lag is probed (openmanager_event_loop_lag_seconds)."""
"""How often storage compacts, downsamples and applies retention."""

META_HEALTH_INTERVAL_S = 5.0
"""How often the metadata store is pinged for /-/ready."""


def open_meta_store(settings: Settings) -> MetaDB:
    """The metadata store named by `meta.*` (migrated to the newest revision)."""
    return open_meta(
        reveal(settings.meta.url),
        settings.storage.path,
        pg_schema=settings.meta.pg_schema,
        pool_size=settings.meta.pool_size,
    )


class Platform:
    """Owns the long-lived parts and their start/stop order."""

    def __init__(
        self,
        settings: Settings,
        *,
        storage: Storage | None = None,
        meta: MetaDB | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.storage = storage if storage is not None else open_storage(settings.storage)
        self.queries = QueryService(self.storage)
        self.remote_write = RemoteWriteReceiver(self.storage)
        self.scheduler = Scheduler(clock)
        self.bus = EventBus()
        self.instance_id = new_instance_id()
        self.dependencies = Dependencies(clock)
        self.redis: RedisLink | None = (
            RedisLink(self.bus, settings.redis, self.dependencies, self.instance_id)
            if settings.redis.url
            else None
        )
        self.leader = LeaderElection(settings.redis, self.instance_id, self.dependencies)
        self.rules = RulesService(settings.rules, self.storage, clock)
        self.meta = meta if meta is not None else open_meta_store(settings)
        self.keys = KeyStore(self.meta, clock)
        self.models = ModelService(
            self.meta, self.queries, clock,
            window_ms=parse_duration(settings.models.window),
            auto_promote=settings.models.auto_promote,
        )  # fmt: skip
        self.dependencies.register("metadata", detail=self.meta.dialect)
        self.meta.retry.on_health = self._meta_health
        self.notify = NotifyService(
            settings.notify,
            settings.storage.path,
            clock=clock,
            store=None if settings.notify.history_file else SqlNotifyStore(self.meta),
            dependencies=self.dependencies,
        )
        self.rules.sender = AlertEvents(self._publish, self.notify, clock)
        self.rules.active = self.leader.is_leader
        self.notify.active = self.leader.is_leader
        self._shared_fleet: tuple[int, int, bytes] | None = None
        self.streams = StreamHub(self.bus)
        self.fleet: FleetService | None = (
            FleetService(settings.simulator, self.storage, clock, self.bus.publish)
            if settings.simulator.enabled
            else None
        )
        self.logs: LogService | None = (
            LogService(settings.logs, settings.storage.path, clock, self.bus.publish)
            if settings.logs.enabled
            else None
        )
        if self.fleet is not None:  # detector models are validated on the simulator's faults
            self.models.truth = self.fleet.faults_between
        fleet_deps = (
            {s.name: list(s.dependencies) for s in self.fleet.simulator.fleet}
            if self.fleet is not None
            else {}
        )
        self.incidents = IncidentService.open(
            settings.incidents,
            self.meta,
            queries=self.queries,
            topology=Topology.merged(settings.incidents.dependencies, fleet_deps),
            clock=clock,
            publish=self.bus.publish,
        )
        self.anomalies = AnomalyService(
            self.queries, self.storage, clock, self._publish, store=AnomalyStore(self.meta),
            promoted=self.models.production_detectors,
        )  # fmt: skip
        self.models.listeners.append(self.anomalies.reload_models)
        self.scrape = ScrapeManager(settings.scrape_configs, self.storage, clock)
        self.agent = (
            Agent(settings.agent, LocalSink(self.storage)) if settings.agent.enabled else None
        )
        self.assistant = AssistantService(
            settings.assistant,
            self.queries,
            KnowledgeBase(settings.knowledge),
            interaction_store(settings.assistant, self.meta),
            clock=clock,
            alerts=lambda: list(alerts_json(self.rules.manager.groups)["alerts"]),
            anomalies=lambda: [e.to_dict() for e in self.anomalies.recent()],
            incidents=lambda servers: incidents_of(self.incidents)(servers),
            dependencies=self._dependencies,
        )
        self.exporters = [
            ExportRunner(cfg, self.storage, create_exporter(cfg), clock)
            for cfg in settings.exporters
        ]
        self._not_ready: str | None = "starting"

    def _dependencies(self, server: str) -> list[str]:
        """Servers `server` calls: declared in `incidents.dependencies` or by the simulated fleet."""
        return list(self.incidents.topology.dependencies.get(server, ()))

    def _publish(self, channel: str, payload: dict[str, Any]) -> Any:
        """Publish on the bus; anomalies and alert changes also go to the incidents."""
        event = self.bus.publish(channel, payload)
        if channel in ("anomalies", "alerts") and self.settings.incidents.enabled:
            try:
                if channel == "anomalies":
                    self.incidents.on_anomaly(payload)
                else:
                    self.incidents.on_alert(payload)
            except Exception as exc:  # grouping trouble must not stop detection or alerting
                log.warning("incidents: could not take an event from %s: %s", channel, exc)
        return event

    def not_ready_reason(self) -> str | None:
        """None once the platform serves data; otherwise why not yet."""
        return self._not_ready

    async def start(self) -> None:
        """Connect to Redis (if set), backfill recent history, then start the periodic jobs."""
        if self.redis is not None:
            await self.redis.start()
            await asyncio.to_thread(self.leader.tick)
            self.scheduler.add("leader-election", self.leader.interval_s, self.leader.tick)
        if self.fleet is not None:
            self._not_ready = "simulator is writing recent history"
            await asyncio.to_thread(
                self.fleet.backfill, parse_duration(self.settings.simulator.backfill)
            )
            interval_s = parse_duration(self.settings.simulator.interval) / 1000
            self.scheduler.add("simulator", interval_s, self.fleet.tick)
            await asyncio.to_thread(self._record_inventory)
        if self.logs is not None:
            sim_interval_s = await asyncio.to_thread(self._simulated_logs, self.logs)
            self.logs.register(self.scheduler, sim_interval_s)
        self.scheduler.add("storage-maintenance", MAINTENANCE_INTERVAL_S, self.storage.maintain)
        self.scheduler.add("metadata-health", META_HEALTH_INTERVAL_S, self._check_meta)
        self.scheduler.add("event-loop-lag", LOOP_LAG_INTERVAL_S, probe_loop_lag)
        fc = ForecastService(self.queries, self.storage, self.clock, self.bus.publish)
        self.scheduler.add("forecast-exhaustion", EXHAUSTION_INTERVAL_S, fc.write_exhaustion)
        self.scrape.register(self.scheduler)
        if self.agent is not None:
            agent_s = parse_duration(self.settings.agent.interval) / 1000
            self.scheduler.add("host-agent", agent_s, self.agent.tick)
        self.rules.register(self.scheduler)
        self.anomalies.register(self.scheduler)
        every = self.settings.models.retrain_every
        retrain_ms = 0 if every == "0" else parse_duration(every)
        if retrain_ms:
            self.scheduler.add("model-retrain", retrain_ms / 1000, self.models.scheduled_retrain)
        self.notify.register(self.scheduler)
        self.assistant.register(self.scheduler)
        if self.settings.incidents.enabled:
            self.incidents.register(self.scheduler)
        for exporter in self.exporters:
            exporter.register(self.scheduler)
        self.rules.install_sighup()
        self.scheduler.start()
        self._not_ready = None
        log.info("platform started")

    async def stop(self) -> None:
        """Stop jobs, then flush and close storage."""
        self._not_ready = "shutting down"
        await self.scheduler.stop()
        await asyncio.to_thread(self.leader.release)
        await asyncio.to_thread(self.notify.close)
        if self.logs is not None:
            await asyncio.to_thread(self.logs.close)
        self.assistant.store.close()
        await asyncio.to_thread(self.incidents.close)
        await self.streams.stop()
        if self.redis is not None:
            await self.redis.stop()
        await self.scrape.stop()
        for exporter in self.exporters:
            try:  # push what arrived since the last run
                await asyncio.to_thread(exporter.run)
            except Exception:  # shutting down goes on whatever the target does
                log.exception("exporter %s: final run failed", exporter.settings.name)
            exporter.close()
        await asyncio.to_thread(self.storage.close)
        await asyncio.to_thread(self.meta.close)
        log.info("platform stopped")

    def _record_inventory(self) -> None:
        """Put the simulated fleet in the servers inventory of the metadata store."""
        if self.fleet is None:
            return
        records = [
            ServerRecord(s.name, s.environment, s.role, {"source": "simulator"})
            for s in self.fleet.simulator.fleet
        ]
        record_servers(self.meta, records, self.clock())

    def _meta_health(self, ok: bool, error: str) -> None:
        """Every metadata-store call's outcome (meta.retry) goes to /-/ready at once."""
        if ok:
            self.dependencies.up("metadata")
        else:
            self.dependencies.down("metadata", error)

    def _check_meta(self) -> None:
        """Report whether the metadata store answers (in /-/ready and openmanager_dependency_up)."""
        try:
            self.meta.ping()
        except Unavailable as exc:
            self.dependencies.down("metadata", exc.message)
        else:
            self.dependencies.up("metadata")

    def _simulated_logs(self, logs: LogService) -> float | None:
        """Attach the simulated fleet's logs and write those of the backfilled history;
        returns the sync interval in seconds (None when the fleet writes no logs)."""
        sim_s = self.settings.simulator
        if self.fleet is None or not self.settings.logs.simulate:
            return None
        fleet = self.fleet
        sim = LogSimulator(fleet.simulator.fleet, sim_s.seed, fleet.faults_between,
                           self.settings.logs.lines_per_minute)  # fmt: skip
        since = int(self.clock() * 1000) - parse_duration(sim_s.backfill)
        logs.attach_simulator(sim, fleet.last_time_ms, since)
        logs.sync_simulated()
        return parse_duration(sim_s.interval) / 1000

    def fleet_body(self) -> bytes | None:
        """The `/api/v1/fleet` response body: our simulated fleet, else the state shared via Redis."""
        if self.fleet is not None:
            return self.fleet.fleet_response()
        return self.shared_fleet()

    def shared_fleet(self) -> bytes | None:
        """The fleet response built from another instance's latest events (via Redis), if any."""
        metrics = self.bus.latest("server-metrics")
        status = self.bus.latest("system-status")
        if metrics is None or status is None or not metrics.origin:
            return None
        cached = self._shared_fleet
        if cached is not None and cached[:2] == (metrics.seq, status.seq):
            return cached[2]
        data = {
            "time_ms": metrics.payload.get("time_ms"),
            "summary": status.payload.get("summary"),
            "servers": metrics.payload.get("servers", []),
        }
        body = orjson.dumps({"status": "success", "data": data})
        self._shared_fleet = (metrics.seq, status.seq, body)
        return body

    def dependency_status(self) -> dict[str, Any]:
        """Each outside dependency's health, the leader role and the Redis link, for /-/ready."""
        return {
            "instance": self.instance_id,
            "degraded": [d.name for d in self.dependencies.degraded()],
            "dependencies": self.dependencies.snapshot(),
            "leader": self.leader.status(),
            "redis": None
            if self.redis is None
            else {"connected": self.redis.connected, "sessions": self.redis.sessions},
        }

    def status(self) -> dict[str, Any]:
        """A summary for `/api/v1/status/jobs` and the CLI."""
        return {
            "ready": self._not_ready is None,
            "reason": self._not_ready,
            "jobs": [vars(s) for s in self.scheduler.status()],
            "exporters": [e.status.to_dict() for e in self.exporters],
        }
