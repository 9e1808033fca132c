"""Link an instance's in-process EventBus to Redis so several instances share live events.

Every event published here goes to Redis pub/sub (`<prefix>:bus:<channel>`) and is kept as the
channel's latest state (`<prefix>:latest:<channel>`, a key with a TTL: the fleet state cache).
Events other instances publish arrive through a pattern subscription and are re-published on
the local bus with their origin, so the stream hub serves them like local ones.

When Redis goes away the instance keeps working from memory: local events queue up (bounded,
oldest dropped), the dependency is reported down in /-/ready, and a reconnect loop retries
with exponential backoff and jitter. On reconnect the queued events are sent, and the cached
latest state of each channel is read so that this instance catches up with the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from typing import Any

import orjson
import redis.asyncio as aioredis
from prometheus_client import Counter, Gauge
from redis.exceptions import RedisError
from tenacity import wait_random_exponential

from openmanager.config.settings import RedisSettings
from openmanager.observability.dependencies import Dependencies
from openmanager.services.bus import CHANNELS, Event, EventBus
from openmanager.units import parse_duration

log = logging.getLogger(__name__)

DEPENDENCY = "redis"
MAX_BACKLOG = 10_000
"""Local events kept for Redis while it is unreachable; older ones are dropped (counted)."""

EVENTS = Counter(
    "openmanager_redis_bus_events_total",
    "Bus events exchanged with Redis: out = sent, in = received, dropped = lost while Redis was down.",
    ["direction"],
)
BACKLOG = Gauge("openmanager_redis_bus_backlog", "Local events waiting to be sent to Redis.")


def new_instance_id() -> str:
    """A random id naming this process in the cluster (events, leader lock)."""
    return uuid.uuid4().hex[:12]


def redis_client(settings: RedisSettings) -> aioredis.Redis:
    """An asyncio client with the configured command and connect timeouts."""
    timeout_s = parse_duration(settings.timeout) / 1000
    return aioredis.Redis.from_url(
        settings.url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
    )


class RedisLink:
    """Forwards local bus events to Redis and Redis events (from other instances) to the bus."""

    def __init__(
        self,
        bus: EventBus,
        settings: RedisSettings,
        dependencies: Dependencies,
        instance_id: str,
    ) -> None:
        self.bus = bus
        self.settings = settings
        self.dependencies = dependencies
        self.instance_id = instance_id
        self.ttl_ms = parse_duration(settings.cache_ttl)
        self.max_backoff_s = parse_duration(settings.reconnect_max_backoff) / 1000
        self.connected = False
        self.sessions = 0
        """How many times a connection was established (1 + reconnects)."""
        self._pending: deque[Event] = deque()
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        dependencies.register(DEPENDENCY, settings.url)

    def key(self, kind: str, channel: str) -> str:
        """`<prefix>:<kind>:<channel>`, kind being `bus` (pub/sub) or `latest` (cached state)."""
        return f"{self.settings.key_prefix}:{kind}:{channel}"

    async def start(self) -> None:
        """Start forwarding and the connection loop (returns at once; Redis may be down)."""
        self._loop = asyncio.get_running_loop()
        self.bus.forwarders.append(self._forward)
        self._task = asyncio.create_task(self._run(), name="redis-link")

    async def stop(self, flush_timeout_s: float = 2.0) -> None:
        """Send what is queued (briefly, if connected), then disconnect."""
        with contextlib.suppress(ValueError):
            self.bus.forwarders.remove(self._forward)
        if self.connected and self._pending:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(flush_timeout_s):
                    while self._pending and self.connected:
                        await asyncio.sleep(0.01)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    # local -> Redis
    def _forward(self, event: Event) -> None:
        """Bus hook, any thread: hand the event to the link's loop."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._enqueue(event)
        else:
            with contextlib.suppress(RuntimeError):  # loop closing at shutdown
                loop.call_soon_threadsafe(self._enqueue, event)

    def _enqueue(self, event: Event) -> None:
        if len(self._pending) >= MAX_BACKLOG:
            self._pending.popleft()
            EVENTS.labels("dropped").inc()
        self._pending.append(event)
        BACKLOG.set(len(self._pending))
        self._wake.set()

    def envelope(self, event: Event) -> bytes:
        """The JSON an event travels in: origin, time and payload."""
        return orjson.dumps(
            {"origin": self.instance_id, "ts": event.published_at, "payload": event.payload}
        )

    async def _write(self, client: aioredis.Redis) -> None:
        while True:
            while not self._pending:
                self._wake.clear()
                await self._wake.wait()
            event = self._pending[0]
            body = self.envelope(event)
            pipe = client.pipeline(transaction=False)
            pipe.publish(self.key("bus", event.channel), body)
            pipe.set(self.key("latest", event.channel), body, px=self.ttl_ms)
            await pipe.execute()
            if self._pending and self._pending[0] is event:
                self._pending.popleft()
            BACKLOG.set(len(self._pending))
            EVENTS.labels("out").inc()

    # Redis -> local
    def _receive(self, channel: str, data: bytes | str) -> bool:
        """Publish another instance's event locally; False for our own or malformed ones."""
        try:
            env: dict[str, Any] = orjson.loads(data)
            origin, ts, payload = str(env["origin"]), float(env["ts"]), env["payload"]
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            log.warning("redis: ignoring a malformed event on %s", channel)
            return False
        if origin == self.instance_id or channel not in CHANNELS or not isinstance(payload, dict):
            return False
        self.bus.publish(channel, payload, origin=origin, published_at=ts)
        EVENTS.labels("in").inc()
        return True

    async def _read(self, pubsub: aioredis.client.PubSub) -> None:
        prefix = self.key("bus", "")
        while True:
            msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if msg is None or msg.get("type") != "pmessage":
                continue
            name = msg["channel"].decode() if isinstance(msg["channel"], bytes) else msg["channel"]
            self._receive(name.removeprefix(prefix), msg["data"])

    async def _catch_up(self, client: aioredis.Redis) -> int:
        """Take every channel's cached latest state that is newer than ours; returns how many."""
        values = await client.mget([self.key("latest", c) for c in CHANNELS])
        taken = 0
        for channel, data in zip(CHANNELS, values, strict=True):
            if data is None:
                continue
            local = self.bus.latest(channel)
            try:
                ts = float(orjson.loads(data)["ts"])
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                continue
            if local is None or ts > local.published_at:
                taken += self._receive(channel, data)
        return taken

    # connection loop
    async def _run(self) -> None:
        wait = wait_random_exponential(multiplier=0.2, max=self.max_backoff_s)
        failures = 0
        while True:
            before = self.sessions
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                self.dependencies.down(DEPENDENCY, exc)
            if self.sessions != before:
                failures = 0  # it had worked: start the backoff again from the shortest wait
            failures += 1
            await asyncio.sleep(wait(_RetryState(failures)))  # type: ignore[arg-type]

    async def _session(self) -> None:
        client = redis_client(self.settings)
        pubsub = client.pubsub()
        tasks: list[asyncio.Task[None]] = []
        try:
            await pubsub.psubscribe(self.key("bus", "*"))
            caught = await self._catch_up(client)
            self.connected = True
            self.sessions += 1
            self.dependencies.up(DEPENDENCY)
            log.info(
                "redis: connected (session %d, %d channels caught up, %d events to send)",
                self.sessions,
                caught,
                len(self._pending),
            )
            tasks = [
                asyncio.create_task(self._read(pubsub), name="redis-read"),
                asyncio.create_task(self._write(client), name="redis-write"),
            ]
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()
        finally:
            self.connected = False
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]
            with contextlib.suppress(Exception):
                await client.aclose()


class _RetryState:
    """The one attribute tenacity's wait strategies read: the attempt number."""

    def __init__(self, attempt_number: int) -> None:
        self.attempt_number = attempt_number
