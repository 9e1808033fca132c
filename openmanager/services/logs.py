"""The log service: stores lines from the simulator and tailed files, searches them, streams them.

New lines are published on the bus's `logs` channel grouped by server (so stream filters on
server/role apply); `search` is what the API, the CLI and incident timelines call.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openmanager.config.settings import LogsSettings
from openmanager.logs.record import LogRecord
from openmanager.logs.store import LogQuery, LogStore
from openmanager.logs.tail import FileTailer
from openmanager.services.scheduler import Scheduler
from openmanager.simulate.fleet import Fleet
from openmanager.simulate.logs import LogSimulator
from openmanager.units import parse_duration

log = logging.getLogger(__name__)

RETENTION_INTERVAL_S = 3600.0
MAX_STREAM_LINES = 500
"""Lines per server in one `logs` event; a bigger burst is cut to its newest lines."""
DEFAULT_WINDOW_MS = 3_600_000
if TYPE_CHECKING:
    from openmanager.analytics.rca.incident import Incident

INCIDENT_LEAD_MS = 15 * 60_000
"""An incident's log window opens this long before its first event (the lines that led to it)."""

Publish = Callable[[str, dict[str, Any]], object]


class LogService:
    """Owns the log store and the log sources that feed it."""

    def __init__(
        self,
        settings: LogsSettings,
        data_dir: Path,
        clock: Callable[[], float] = time.time,
        publish: Publish | None = None,
    ) -> None:
        self.settings, self.clock, self._publish = settings, clock, publish
        self.store = LogStore(settings.path if settings.path is not None else data_dir / "logs")
        self.retention_ms = parse_duration(settings.retention)
        self.tailer = (
            FileTailer(settings.tail_paths, settings.tail_server or socket.gethostname(), clock)
            if settings.tail_paths
            else None
        )
        self._roles: dict[str, tuple[str, str]] = {}
        self._sim: LogSimulator | None = None
        self._sim_until: Callable[[], int | None] = lambda: None
        self._sim_done = -1
        self._sim_lock = threading.Lock()

    # ----------------------------------------------------------------- sources

    def attach_simulator(
        self, logs: LogSimulator, until: Callable[[], int | None], since_ms: int
    ) -> None:
        """Write the simulated fleet's lines up to `until()` (the simulator's latest sample) on
        every `sync_simulated`, starting after `since_ms` or the newest stored line."""
        self._sim, self._sim_until = logs, until
        self._roles.update(_roles(logs.fleet))
        latest = self.store.latest_ms([s.name for s in logs.fleet])  # not tailed host lines
        self._sim_done = max(since_ms - 1, latest if latest is not None else -1)

    def sync_simulated(self) -> int:
        """Store (and publish) the simulated lines due since the last call."""
        if self._sim is None:
            return 0
        with self._sim_lock:
            end = self._sim_until()
            if end is None or end <= self._sim_done:
                return 0
            lines = self._sim.lines(self._sim_done + 1, end + 1)
            self._sim_done = end
        return self.write(lines)

    def poll_files(self) -> int:
        """Store (and publish) the lines appended to tailed files since the last poll."""
        return self.write(self.tailer.poll()) if self.tailer is not None else 0

    def write(self, records: Sequence[LogRecord]) -> int:
        """Store lines and announce them on the `logs` channel."""
        if not records:
            return 0
        n = self.store.add(records)
        if self._publish is not None:
            self._publish("logs", self._payload(records))
        return n

    def _payload(self, records: Sequence[LogRecord]) -> dict[str, Any]:
        by_server: dict[str, list[dict[str, Any]]] = {}
        for r in records:
            by_server.setdefault(r.server, []).append(r.to_dict())
        servers = []
        for name, lines in by_server.items():
            env, role = self._roles.get(name, ("", "host"))
            servers.append({"name": name, "role": role, "environment": env,
                            "lines": lines[-MAX_STREAM_LINES:]})  # fmt: skip
        return {"time_ms": max(r.ts_ms for r in records), "servers": servers}

    # ----------------------------------------------------------------- reading

    def search(
        self,
        server: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        level: str | None = None,
        text: str | None = None,
        source: str | None = None,
        limit: int = 100,
        oldest_first: bool = False,
    ) -> list[LogRecord]:
        """Lines of a server (or all) in [start, end] at or above `level` containing `text`.

        Defaults: end is now, start is an hour before end. Newest first unless `oldest_first`.
        """
        end = int(self.clock() * 1000) if end_ms is None else end_ms
        start = end - DEFAULT_WINDOW_MS if start_ms is None else start_ms
        q = LogQuery(start, end, server, level, source, text, limit, oldest_first)
        return self.store.search(q)

    def around(
        self,
        servers: Sequence[str],
        start_ms: int,
        end_ms: int,
        level: str | None = "warning",
        limit: int = 200,
    ) -> list[LogRecord]:
        """Lines of several servers in one window, newest first: an incident's timeline."""
        merged = [r for s in servers for r in self.search(s, start_ms, end_ms, level, limit=limit)]
        return sorted(merged, key=lambda r: r.ts_ms, reverse=True)[:limit]

    def for_incident(
        self, inc: Incident, now_ms: int, level: str | None = "warning", limit: int = 200
    ) -> tuple[int, int, list[LogRecord]]:
        """An incident's lines: its servers from INCIDENT_LEAD_MS before it started until it
        resolved (or now), newest first, with the window (start_ms, end_ms)."""
        first = int(inc.started_at * 1000) - INCIDENT_LEAD_MS
        last = int(inc.resolved_at * 1000) if inc.resolved_at is not None else now_ms
        return first, last, self.around(inc.servers, first, last, level or "warning", limit)

    # ----------------------------------------------------------------- lifecycle

    def apply_retention(self) -> None:
        """Drop the days older than the retention."""
        dropped = self.store.apply_retention(int(self.clock() * 1000), self.retention_ms)
        if dropped:
            log.info("logs: retention dropped %d day partitions", len(dropped))

    def register(self, scheduler: Scheduler, sim_interval_s: float | None = None) -> None:
        """Schedule the simulated-log sync, the file tailer and retention."""
        if self._sim is not None and sim_interval_s is not None:
            scheduler.add("logs-simulated", sim_interval_s, self._sim_job)
        if self.tailer is not None:
            scheduler.add("logs-tail", parse_duration(self.settings.tail_interval) / 1000,
                          self._tail_job)  # fmt: skip
        scheduler.add("logs-retention", RETENTION_INTERVAL_S, self.apply_retention)

    def _sim_job(self) -> None:
        self.sync_simulated()

    def _tail_job(self) -> None:
        self.poll_files()

    def close(self) -> None:
        """Close tailed files and the store."""
        if self.tailer is not None:
            self.tailer.close()
        self.store.close()


def _roles(fleet: Fleet) -> dict[str, tuple[str, str]]:
    return {s.name: (s.environment, s.role) for s in fleet}
