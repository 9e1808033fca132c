"""OpenManager inside another program: `from openmanager import Platform`.

The public `Platform` runs the same services as `openmanager serve` (the internal
`openmanager.services.platform.Platform`: storage, simulator, rules, analytics, exporters, and
optionally the HTTP API) on an asyncio loop in a background thread, so the host program needs no
event loop of its own. Bus events reach plain callbacks (`on`), PromQL answers come back as plain
dicts (`query`).

    with Platform(storage={"path": "/tmp/om"}, simulator={"interval": "1s"}) as om:
        om.on("anomaly_detected", print)
        print(om.query("avg(node_load1)"))
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from openmanager.config import Settings, load_settings
from openmanager.errors import Conflict, InvalidInput
from openmanager.promql.engine import QueryResult
from openmanager.services.bus import EVENTS, EventKind
from openmanager.services.bus import Subscription as BusSubscription
from openmanager.services.platform import Platform as Services
from openmanager.units import parse_duration

log = logging.getLogger(__name__)

T = TypeVar("T")
Callback = Callable[[dict[str, Any]], object]
TimeLike = float | int | datetime | str
"""Unix seconds, an aware datetime, or RFC 3339 text."""

START_TIMEOUT_S = 300.0


class Subscription:
    """A callback registered with `Platform.on`; `cancel()` stops it."""

    def __init__(self, platform: Platform, event: str, kind: EventKind, callback: Callback) -> None:
        self.platform = platform
        self.event = event
        self.kind = kind
        self.callback = callback
        self.delivered = 0
        self.errors = 0
        self._task: asyncio.Task[None] | None = None

    def cancel(self) -> None:
        """Stop delivering events to the callback (idempotent)."""
        self.platform._unsubscribe(self)

    async def _pump(self, sub: BusSubscription) -> None:
        try:
            async for event in sub:
                if self.kind.matches(event.payload):
                    self.platform._callbacks.submit(self._call, event.payload)
        finally:
            sub.close()

    def _call(self, payload: dict[str, Any]) -> None:
        try:
            self.callback(payload)
            self.delivered += 1
        except Exception:  # the host's callback must not stop the others
            self.errors += 1
            log.exception("callback for %s failed", self.event)


class Platform:
    """OpenManager's services in this process; a context manager, or `start()` / `stop()`."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        config_file: str | Path | None = None,
        serve_http: bool = False,
        **overrides: Any,
    ) -> None:
        """Settings from an object, or a YAML file and/or keyword sections such as
        `storage={"path": "data"}` (same keys as the YAML file); `serve_http` also serves the
        HTTP API and dashboard on `server.host:server.port` (see `url`)."""
        if settings is not None and (config_file is not None or overrides):
            raise InvalidInput("pass either a Settings object or config_file/keyword settings")
        self.settings = settings or load_settings(config_file, overrides or None)
        self.serve_http = serve_http
        self.url: str | None = None
        """Base URL of the HTTP API while it is served (`serve_http=True`)."""
        self._services: Services | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: Any = None
        self._server_task: asyncio.Task[None] | None = None
        self._subs: list[Subscription] = []
        self._callbacks = ThreadPoolExecutor(1, thread_name_prefix="openmanager-callbacks")
        self._callbacks_closed = False

    # lifecycle
    def start(self) -> Platform:
        """Open storage, backfill, start the jobs (and the HTTP server); returns self."""
        if self._loop is not None:
            raise Conflict("the platform is already running")
        if self._callbacks_closed:  # started again after stop()
            self._callbacks = ThreadPoolExecutor(1, thread_name_prefix="openmanager-callbacks")
            self._callbacks_closed = False
        loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=loop.run_forever, name="openmanager", daemon=True)
        self._thread.start()
        self._loop = loop
        try:
            self._services = Services(self.settings)
            self._run(self._start(), START_TIMEOUT_S)
        except BaseException:
            self._shutdown_loop()
            raise
        return self

    def stop(self) -> None:
        """Stop jobs and callbacks, flush and close storage (idempotent)."""
        if self._loop is None:
            return
        try:
            self._run(self._stop(), 120.0)
        finally:
            self._shutdown_loop()
            self._callbacks.shutdown(wait=True)
            self._callbacks_closed = True

    def __enter__(self) -> Platform:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def services(self) -> Services:
        """The internal platform (storage, queries, fleet, anomalies, ...), once started."""
        if self._services is None:
            raise Conflict("the platform is not running: call start() or use `with Platform(...)`")
        return self._services

    # events
    def on(self, event: str, callback: Callback) -> Subscription:
        """Call `callback(payload)` for every `event` from now on, in one background thread.

        Events: anomaly_detected, alert (alert_firing, alert_resolved), incident, analysis,
        forecast, server_metrics, system_status, log. Works before or after `start()`.
        """
        kind = EVENTS.get(event)
        if kind is None:
            raise InvalidInput(f"unknown event {event!r}; known: {', '.join(EVENTS)}")
        sub = Subscription(self, event, kind, callback)
        self._subs.append(sub)
        if self._loop is not None:
            self._run(self._attach(sub), 10.0)
        return sub

    # queries
    def query(
        self,
        expr: str,
        *,
        time: TimeLike | None = None,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        step: float | str | None = None,
    ) -> list[dict[str, Any]]:
        """PromQL: an instant query at `time` (default now), or a range query with `start`
        (and `end`, default now; `step` in seconds or like "1m", default ~250 points).

        Instant: `[{"metric": {...}, "value": (t, v)}]`; range: `[{"metric", "values": [...]}]`
        (t in Unix seconds). Errors raise `openmanager.errors.InvalidInput`.
        """
        services = self.services
        now = services.clock()
        if start is None:
            if end is not None or step is not None:
                raise InvalidInput("a range query needs start (end and step are optional)")
            at = _seconds(time) if time is not None else now
            return _plain(services.queries.instant(expr, int(at * 1000)), instant=True)
        if time is not None:
            raise InvalidInput("give either time (instant query) or start/end (range query)")
        lo = _seconds(start)
        hi = _seconds(end) if end is not None else now
        if hi < lo:
            raise InvalidInput(f"query end {hi} is before its start {lo}")
        if step is None:
            step_s = max(1.0, math.ceil((hi - lo) / 250))
        elif isinstance(step, str):
            step_s = parse_duration(step) / 1000
        else:
            step_s = float(step)
        if step_s <= 0:
            raise InvalidInput(f"query step must be positive, got {step!r}")
        result = services.queries.range(expr, int(lo * 1000), int(hi * 1000), int(step_s * 1000))
        return _plain(result, instant=False)

    def trigger_fault(self, scenario: str, server: str | None = None) -> dict[str, Any]:
        """Inject a simulator fault scenario now (the simulator must be enabled)."""
        fleet = self.services.fleet
        if fleet is None:
            raise Conflict("the simulator is disabled in these settings")
        return fleet.trigger(scenario, server)

    def status(self) -> dict[str, Any]:
        """Readiness, jobs and exporters, as `/api/v1/status/jobs` says."""
        return self.services.status()

    # internals
    def _run(self, coro: Coroutine[Any, Any, T], timeout_s: float) -> T:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout_s)

    async def _start(self) -> None:
        services = self.services
        for sub in self._subs:
            await self._attach(sub)
        if not self.serve_http:
            await services.start()
            return
        import uvicorn

        from openmanager.api.app import create_app

        cfg = self.settings.server
        config = uvicorn.Config(
            create_app(services), host=cfg.host, port=cfg.port, log_level=cfg.log_level
        )
        self._server = uvicorn.Server(config)
        self._server_task = asyncio.create_task(self._server.serve())
        while not self._server.started:  # the app's lifespan starts the services
            if self._server_task.done():
                self._server_task.result()
                raise Conflict(f"the HTTP server did not start on {cfg.host}:{cfg.port}")
            await asyncio.sleep(0.05)
        host, port = self._server.servers[0].sockets[0].getsockname()[:2]
        self.url = f"http://{host}:{port}"

    async def _stop(self) -> None:
        for sub in self._subs:
            if sub._task is not None:
                sub._task.cancel()
        if self._server is not None and self._server_task is not None:
            self._server.should_exit = True
            await self._server_task
            self.url = None
        elif self._services is not None:
            await self._services.stop()

    async def _attach(self, sub: Subscription) -> None:
        bus_sub = self.services.bus.subscribe(
            sub.kind.channel
        )  # from now, not from the task's start
        sub._task = asyncio.create_task(sub._pump(bus_sub))

    def _unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)
        task, loop = sub._task, self._loop
        if task is not None and loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(task.cancel)

    def _shutdown_loop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout=30)
        loop.close()
        self._loop = self._thread = None
        self._services = None


def _seconds(t: TimeLike) -> float:
    if isinstance(t, datetime):
        if t.tzinfo is None:
            raise InvalidInput(f"{t!r} has no time zone; pass an aware datetime")
        return t.timestamp()
    if isinstance(t, str):
        try:
            return datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp()
        except ValueError:
            raise InvalidInput(f"{t!r} is not an RFC 3339 time") from None
    return float(t)


def _plain(result: QueryResult, *, instant: bool) -> list[dict[str, Any]]:
    if result.type == "string":
        return [{"metric": {}, "value": (result.time_ms / 1000, result.string)}]
    out: list[dict[str, Any]] = []
    for s in result.series:
        points = [
            (t / 1000, v) for t, v in zip(s.timestamps.tolist(), s.values.tolist(), strict=True)
        ]
        item: dict[str, Any] = {"metric": dict(s.labels)}
        if instant and result.type in ("vector", "scalar"):
            item["value"] = points[-1] if points else None
        else:
            item["values"] = points
        out.append(item)
    return out
