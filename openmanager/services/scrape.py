"""The scrape manager: one pool per `scrape_configs` job, its targets, and their loops.

Each pool is one scheduler job (`scrape:<job_name>`) at the job's interval: it refreshes
discovery (static targets, file_sd files polled by mtime), starts loops for new targets,
writes stale markers for targets that went away, scrapes every target concurrently and
appends each target's batch through `Storage.append`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from openmanager.config.scrape import ScrapeConfig
from openmanager.errors import ConfigError
from openmanager.ingest.file_sd import FileSD
from openmanager.ingest.relabel import compile_rules
from openmanager.ingest.scrape import ScrapeLoop
from openmanager.ingest.targets import Pairs, build_targets, static_groups
from openmanager.samples import SampleBatch
from openmanager.services.scheduler import Scheduler
from openmanager.tsdb.storage import Storage
from openmanager.units import parse_duration

log = logging.getLogger(__name__)


@dataclass
class ScrapePool:
    """The targets of one job and their loops."""

    config: ScrapeConfig
    clock: Callable[[], float]
    loops: dict[tuple[str, Pairs], ScrapeLoop] = field(default_factory=dict)
    dropped: list[Pairs] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rules = compile_rules(self.config.relabel_configs)
        self._metric_rules = compile_rules(self.config.metric_relabel_configs)
        self._file_sd = [FileSD(c) for c in self.config.file_sd_configs]
        self._synced = False

    def sync(self) -> list[SampleBatch]:
        """Refresh targets; returns the stale-marker batches of targets that went away."""
        groups = static_groups(self.config)
        changed = not self._synced
        for sd in self._file_sd:
            found, sd_changed = sd.groups()
            groups.extend(found)
            changed = changed or sd_changed
        if not changed:
            return []
        self._synced = True
        targets, self.dropped = build_targets(self.config, groups, self._rules)
        wanted = {t.key: t for t in targets}
        gone = [self.loops.pop(k) for k in list(self.loops) if k not in wanted]
        for key, target in wanted.items():
            if key not in self.loops:
                self.loops[key] = ScrapeLoop(target, self.config, self._metric_rules, self.clock)
        return [loop.stale_batch() for loop in gone]

    async def scrape(self, client: httpx.AsyncClient) -> list[SampleBatch]:
        """Scrape every target at once."""
        loops = list(self.loops.values())
        return list(await asyncio.gather(*(loop.scrape(client) for loop in loops)))


class ScrapeManager:
    """Every scrape pool, registered as scheduler jobs; the source of `/api/v1/targets`."""

    def __init__(
        self,
        configs: Sequence[ScrapeConfig],
        storage: Storage,
        clock: Callable[[], float] = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.storage = storage
        names = [c.job_name for c in configs]
        if len(set(names)) != len(names):
            raise ConfigError(f"scrape_configs: job names must be unique, got {names}")
        self.pools = {c.job_name: ScrapePool(c, clock) for c in configs}
        for pool in self.pools.values():
            pool.sync()  # targets are listed before their first scrape
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    def register(self, scheduler: Scheduler) -> None:
        """One scheduler job per pool, at the pool's scrape interval."""
        for name, pool in self.pools.items():
            interval_s = parse_duration(pool.config.scrape_interval) / 1000
            scheduler.add(f"scrape:{name}", interval_s, self._runner(name))

    def _runner(self, name: str) -> Callable[[], Any]:
        async def run() -> None:
            await self.run_pool(name)

        return run

    async def run_pool(self, name: str) -> None:
        """Sync one pool's targets, scrape them, and store the results."""
        pool = self.pools[name]
        batches = pool.sync()
        batches += await pool.scrape(self._http())
        for batch in batches:
            if len(batch):
                result = await asyncio.to_thread(self.storage.append, batch)
                if result.rejected:
                    log.debug("scrape %s: %d samples rejected", name, result.rejected)

    async def stop(self) -> None:
        """Write stale markers for every target and close the HTTP client."""
        for pool in self.pools.values():
            for loop in pool.loops.values():
                batch = loop.stale_batch()
                if len(batch):
                    await asyncio.to_thread(self.storage.append, batch)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(transport=self._transport, follow_redirects=True)
        return self._client

    def targets(self) -> dict[str, Any]:
        """`/api/v1/targets` data: activeTargets and droppedTargets, Prometheus's shape."""
        active: list[dict[str, Any]] = []
        dropped: list[dict[str, Any]] = []
        for name, pool in self.pools.items():
            interval = pool.config.scrape_interval
            timeout = pool.config.scrape_timeout
            for loop in pool.loops.values():
                st = loop.state
                active.append(
                    {
                        "discoveredLabels": dict(loop.target.discovered),
                        "labels": dict(loop.target.labels),
                        "scrapePool": name,
                        "scrapeUrl": loop.target.url,
                        "globalUrl": loop.target.url,
                        "lastError": st.last_error,
                        "lastScrape": _rfc3339(st.last_scrape),
                        "lastScrapeDuration": st.last_duration_s,
                        "health": st.health,
                        "scrapeInterval": interval,
                        "scrapeTimeout": timeout,
                    }
                )
            dropped.extend({"discoveredLabels": dict(d)} for d in pool.dropped)
        return {"activeTargets": active, "droppedTargets": dropped}


def _rfc3339(ts: float | None) -> str:
    if ts is None:
        return "0001-01-01T00:00:00Z"
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1e6) % 1_000_000:06d}Z"
    )
