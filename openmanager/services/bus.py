"""In-process event bus: services publish live events, the stream hub (and others) subscribe.

`publish(channel, payload)` may be called from any thread (scheduled jobs run in worker
threads); it never blocks and never raises because of a subscriber. A subscriber reads with
`async for event in bus.subscribe(channel)`; a subscriber that falls more than `maxsize`
events behind loses the oldest ones (counted in `Subscription.dropped`).

Payload convention (used by the stream filters): a JSON-serialisable dict; optional keys
`server` and `role` name what the event is about, and a `servers` list of dicts (each with
`name` and `role`) is filtered item by item.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

CHANNELS = (
    "server-metrics",
    "system-status",
    "alerts",
    "anomalies",
    "ai-analysis",
    "logs",
    "forecasts",
    "incidents",
)
"""The channels the dashboard and the stream endpoints know."""


@dataclass(frozen=True)
class EventKind:
    """A named event for subscribers outside the app: its channel, and the `status` it requires."""

    channel: str
    status: str | None = None

    def matches(self, payload: dict[str, Any]) -> bool:
        return self.status is None or payload.get("status") == self.status


EVENTS: dict[str, EventKind] = {
    "anomaly_detected": EventKind("anomalies"),
    "alert": EventKind("alerts"),
    "alert_firing": EventKind("alerts", "firing"),
    "alert_resolved": EventKind("alerts", "resolved"),
    "incident": EventKind("incidents"),
    "incident_resolved": EventKind("incidents", "resolved"),
    "analysis": EventKind("ai-analysis"),
    "forecast": EventKind("forecasts"),
    "server_metrics": EventKind("server-metrics"),
    "system_status": EventKind("system-status"),
    "log": EventKind("logs"),
}
"""Event names of the embedding API (`Platform.on(name, callback)`) mapped to bus channels."""


@dataclass(frozen=True)
class Event:
    """One published payload with its channel, sequence number and publish time (Unix s)."""

    channel: str
    payload: dict[str, Any]
    seq: int
    published_at: float
    origin: str = ""
    """Empty for events published here; the publishing instance's id for events from Redis."""


@dataclass(eq=False)
class Subscription:
    """A subscriber's queue on one channel; iterate it, close it when done."""

    bus: EventBus
    channel: str
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[Event]
    dropped: int = 0
    closed: bool = field(default=False)

    def _offer(self, event: Event) -> None:
        """Runs on the subscriber's loop: enqueue, dropping the oldest when full."""
        if self.closed:
            return
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(event)

    def close(self) -> None:
        """Stop receiving; idempotent."""
        self.closed = True
        self.bus._remove(self)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        try:
            while not self.closed:
                yield await self.queue.get()
        finally:
            self.close()


class EventBus:
    """Channels of events; the latest event per channel is kept for late subscribers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subs: dict[str, list[Subscription]] = {}
        self._latest: dict[str, Event] = {}
        self._seq = 0
        self.forwarders: list[Callable[[Event], None]] = []
        """Called with every event published here (not with those from elsewhere): the Redis link."""

    def publish(
        self,
        channel: str,
        payload: dict[str, Any],
        *,
        origin: str = "",
        published_at: float | None = None,
    ) -> Event:
        """Deliver `payload` to every subscriber of `channel` (thread-safe, non-blocking).

        `origin` names the instance an event came from (set by the Redis link); events with
        an origin are not forwarded again.
        """
        with self._lock:
            self._seq += 1
            at = time.time() if published_at is None else published_at
            event = Event(channel, payload, self._seq, at, origin)
            self._latest[channel] = event
            subs = list(self._subs.get(channel, ()))
        if not origin:
            for forward in self.forwarders:
                forward(event)
        for sub in subs:
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is sub.loop:
                sub._offer(event)
            elif not sub.loop.is_closed():
                sub.loop.call_soon_threadsafe(sub._offer, event)
        return event

    def subscribe(self, channel: str, maxsize: int = 1000) -> Subscription:
        """A new subscription on `channel`, bound to the running event loop."""
        sub = Subscription(self, channel, asyncio.get_running_loop(), asyncio.Queue(maxsize))
        with self._lock:
            self._subs.setdefault(channel, []).append(sub)
        return sub

    def latest(self, channel: str) -> Event | None:
        """The last event published on `channel`, if any."""
        with self._lock:
            return self._latest.get(channel)

    def subscribers(self, channel: str) -> int:
        """How many subscriptions `channel` has now."""
        with self._lock:
            return len(self._subs.get(channel, ()))

    def _remove(self, sub: Subscription) -> None:
        with self._lock:
            subs = self._subs.get(sub.channel, [])
            if sub in subs:
                subs.remove(sub)
