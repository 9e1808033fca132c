"""Fan-out of bus events to stream clients (WebSocket and SSE), filtered, batched and throttled.

One bus subscription per channel feeds every client. Per client and channel, the first
event after a quiet second goes out at once and later ones are batched until a second has
passed: at most one message per channel per second, as a rate limit with a jitter allowance
(the generic cell rate algorithm). Each message moves the channel's next slot one second past
the later of the previous slot and the publication of the message's first event; a message
is due from a quarter second (`JITTER`) before its slot. So due times are at least 0.75 s
apart and one a second in the long run (at most 1 + W + 0.25 in any W seconds). Slots follow
the events' publication, not the sends: a send delayed by the server (a busy event loop, the
fan-out to a thousand clients) does not delay the client's later ones, and an event every
second (a 1 s simulator tick) goes out at once although ticks jitter by up to a quarter
second. Strict one-second gaps from each send made every client's sends drift up to a second
behind their events at a 1 s tick. (A publication later than that leaves the excess as a
delay of the following ones until an event comes after its slot: a long-run limit cannot
catch up at the limit's own rate.)

A client with `max_pending` messages of a channel still unsent is dropped from that channel
with a notice, so it never slows the others. Messages are JSON text:

- `{"type": "update", "channel": C, "events": [{"seq", "ts", "data"}, ...]}`
- `{"type": "subscribed" | "unsubscribed", "channel": C, "filter": {...}}`
- `{"type": "dropped", "channel": C, "reason": ...}` and `{"type": "error", "message": ...}`

A client that asks for `encoding=deflate` gets `update` messages as binary frames holding the
zlib-compressed JSON (browsers: `DecompressionStream("deflate")`). An update that goes to many
clients alike is compressed once for all of them, where per-connection permessage-deflate
would compress it once per client.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Counter, Gauge

from openmanager.errors import InvalidInput
from openmanager.services.bus import CHANNELS, Event, EventBus

log = logging.getLogger(__name__)

THROTTLE_S = 1.0
"""Time between two messages of one channel to one client (in the long run; see JITTER)."""
JITTER = 0.25
"""How early (a fraction of the throttle interval) a message may go out before its slot."""
MAX_PENDING = 8
"""Unsent messages of one channel a client may have before it is dropped from the channel."""
MAX_BATCH = 200
"""Events kept per batch; older ones of a batch are skipped (counted) beyond this."""

STREAM_CLIENTS = Gauge("openmanager_stream_clients", "Connected stream clients.", ["transport"])
STREAM_MESSAGES = Counter(
    "openmanager_stream_messages_total", "Stream messages queued.", ["channel"]
)
STREAM_DROPS = Counter(
    "openmanager_stream_slow_drops_total",
    "Clients dropped from a channel as too slow.",
    ["channel"],
)

_MESSAGES = {channel: STREAM_MESSAGES.labels(channel) for channel in CHANNELS}
"""The counter's child per channel, looked up once: `labels()` per message cost a third of the
fan-out's time with 1,000 clients."""

FILTER_KEYS = ("server", "role", "environment")

ENCODINGS = ("deflate",)
"""Message encodings a client may ask for (besides plain JSON text)."""
DEFLATE_LEVEL = 6

CLOSE = "\x00close"
"""The channel marker of the last item a closed session's outbox yields: end the connection."""


@dataclass(frozen=True)
class Filter:
    """Which events of a channel a client wants: exact matches on server, role, environment."""

    server: str | None = None
    role: str | None = None
    environment: str | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Filter:
        """Validate a client's filter object (unknown keys and non-strings are rejected)."""
        d = d or {}
        if not isinstance(d, dict):
            raise InvalidInput("filter must be an object")
        unknown = set(d) - set(FILTER_KEYS)
        if unknown:
            raise InvalidInput(f"unknown filter keys {sorted(unknown)}; known: {list(FILTER_KEYS)}")
        values = {k: d.get(k) or None for k in FILTER_KEYS}
        if any(v is not None and not isinstance(v, str) for v in values.values()):
            raise InvalidInput("filter values must be strings")
        return cls(**values)

    def to_dict(self) -> dict[str, str]:
        """The non-empty keys."""
        return {k: v for k in FILTER_KEYS if (v := getattr(self, k)) is not None}

    def matches(self, item: dict[str, Any]) -> bool:
        """True when every set key equals the item's (items without the key pass).

        Keys are looked up on the item, then in its `labels` (alerts) or `series` (anomaly
        evidence) dict; a server's own record names it with `name`.
        """
        nested = [d for d in (item.get("labels"), item.get("series")) if isinstance(d, dict)]

        def value(key: str) -> Any:
            if key in item:
                return item[key]
            if key == "server" and "name" in item:
                return item["name"]
            return next((d[key] for d in nested if key in d), None)

        return all(
            want is None or (got := value(key)) is None or got == want
            for key, want in (
                ("server", self.server),
                ("role", self.role),
                ("environment", self.environment),
            )
        )

    def apply(self, payload: dict[str, Any]) -> dict[str, Any] | None:
        """The payload as this client sees it, or None when nothing of it matches."""
        if not self.to_dict():
            return payload
        if isinstance(payload.get("servers"), list):
            kept = [s for s in payload["servers"] if isinstance(s, dict) and self.matches(s)]
            return {**payload, "servers": kept} if kept else None
        return payload if self.matches(payload) else None


@dataclass
class Prepared:
    """One filtered event, serialised lazily once for every client that gets it alone."""

    event: Event
    data: dict[str, Any]
    published: float
    """The event's publication on the monotonic clock (see `published_monotonic`)."""
    _text: str | None = None
    _deflated: bytes | None = None

    def item(self) -> dict[str, Any]:
        """The event as it appears in a message's `events` list."""
        return {"seq": self.event.seq, "ts": self.event.published_at, "data": self.data}

    def text(self) -> str:
        """The whole `update` message carrying only this event."""
        if self._text is None:
            self._text = update_text(self.event.channel, [self.item()])
        return self._text

    def deflated(self) -> bytes:
        """`text()` zlib-compressed, once for every `encoding=deflate` client."""
        if self._deflated is None:
            self._deflated = deflate(self.text())
        return self._deflated


def published_monotonic(event: Event) -> float:
    """When `event` was published, on the monotonic clock (never later than now: an event
    from an instance whose clock runs ahead counts as published now)."""
    return time.monotonic() - max(0.0, time.time() - event.published_at)


def deflate(text: str) -> bytes:
    """A message as the binary frame an `encoding=deflate` client reads."""
    return zlib.compress(text.encode(), DEFLATE_LEVEL)


def update_text(channel: str, items: list[dict[str, Any]], skipped: int = 0) -> str:
    """An `update` message as JSON text."""
    msg: dict[str, Any] = {"type": "update", "channel": channel, "events": items}
    if skipped:
        msg["skipped"] = skipped
    return json.dumps(msg, separators=(",", ":"))


@dataclass
class ChannelState:
    """One client's subscription to one channel."""

    filter: Filter
    buffer: list[Prepared] = field(default_factory=list)
    skipped: int = 0
    slot: float = float("-inf")
    """Monotonic time from which (less the jitter allowance) the next message may go out."""
    in_flight: int = 0
    timer: asyncio.TimerHandle | None = None
    last_seq: int = 0
    """The newest event taken: the latest event sent on subscribing may also be on its way
    through the channel's pump, and must not come twice (nor hold the next one back)."""


class ClientSession:
    """One connected client: its channels and the queue of messages its sender writes out."""

    def __init__(self, hub: StreamHub, transport: str, encoding: str | None = None) -> None:
        if encoding is not None and encoding not in ENCODINGS:
            raise InvalidInput(f"unknown encoding {encoding!r}; known: {', '.join(ENCODINGS)}")
        self.hub = hub
        self.transport = transport
        self.encoding = encoding
        self.channels: dict[str, ChannelState] = {}
        self.outbox: asyncio.Queue[tuple[str | None, str | bytes]] = asyncio.Queue()
        self.closed = False

    def control(self, msg: dict[str, Any]) -> None:
        """Queue a control message (never throttled)."""
        if not self.closed:
            self.outbox.put_nowait((None, json.dumps(msg, separators=(",", ":"))))

    def subscribe(self, channel: str, flt: Filter) -> None:
        """Start (or re-filter) a channel; the channel's latest event follows at once."""
        if channel not in CHANNELS:
            raise InvalidInput(f"unknown channel {channel!r}; known: {', '.join(CHANNELS)}")
        old = self.channels.pop(channel, None)
        if old is not None and old.timer is not None:
            old.timer.cancel()
        self.channels[channel] = ChannelState(flt)
        self.hub._attach(self, channel)
        self.control({"type": "subscribed", "channel": channel, "filter": flt.to_dict()})
        latest = self.hub.bus.latest(channel)
        if latest is not None:
            data = flt.apply(latest.payload)
            if data is not None:
                self.deliver(channel, Prepared(latest, data, published_monotonic(latest)))

    def unsubscribe(self, channel: str, notice: dict[str, Any] | None = None) -> None:
        """Stop a channel; `notice` (if any) tells the client why."""
        state = self.channels.pop(channel, None)
        if state is None:
            return
        if state.timer is not None:
            state.timer.cancel()
        self.hub._detach(self, channel)
        self.control(notice or {"type": "unsubscribed", "channel": channel})

    def deliver(self, channel: str, prepared: Prepared) -> None:
        """Take one event: send now if the channel was quiet for a second, else batch it."""
        state = self.channels.get(channel)
        if state is None or self.closed or prepared.event.seq <= state.last_seq:
            return
        state.last_seq = prepared.event.seq
        state.buffer.append(prepared)
        if len(state.buffer) > MAX_BATCH:
            del state.buffer[0]
            state.skipped += 1
        if state.timer is None:
            wait = state.slot - JITTER * self.hub.throttle_s - time.monotonic()
            if wait <= 0:
                self._flush(channel)
            else:
                loop = asyncio.get_running_loop()
                state.timer = loop.call_later(wait, self._flush, channel)

    def _flush(self, channel: str) -> None:
        state = self.channels.get(channel)
        if state is None or self.closed:
            return
        state.timer = None
        if not state.buffer:
            return
        if state.in_flight >= self.hub.max_pending:
            STREAM_DROPS.labels(channel).inc()
            self.hub.slow_drops += 1
            reason = f"client too slow: {state.in_flight} messages unsent"
            self.unsubscribe(channel, {"type": "dropped", "channel": channel, "reason": reason})
            return
        message: str | bytes
        if len(state.buffer) == 1 and not state.skipped:
            one = state.buffer[0]
            message = one.deflated() if self.encoding else one.text()
        else:
            message = update_text(channel, [p.item() for p in state.buffer], state.skipped)
            if self.encoding:
                message = deflate(message)
        state.slot = max(state.slot, state.buffer[0].published) + self.hub.throttle_s
        state.buffer, state.skipped = [], 0
        state.in_flight += 1
        _MESSAGES[channel].inc()
        self.outbox.put_nowait((channel, message))

    async def next_message(self) -> tuple[str | None, str | bytes]:
        """The next message to write: (channel or None for control, JSON text or deflated)."""
        return await self.outbox.get()

    def sent(self, channel: str | None) -> None:
        """The sender finished writing a message of `channel`."""
        state = self.channels.get(channel) if channel else None
        if state is not None and state.in_flight > 0:
            state.in_flight -= 1

    def handle(self, text: str) -> None:
        """Apply one client message: subscribe, unsubscribe or ping; errors go back as messages."""
        try:
            msg = json.loads(text)
            if not isinstance(msg, dict):
                raise InvalidInput("a message must be a JSON object")
            action = msg.get("action") or msg.get("type")
            channel = msg.get("channel")
            if action == "ping":
                self.control({"type": "pong", "ts": time.time()})
            elif action in ("subscribe", "unsubscribe"):
                names = channel if isinstance(channel, list) else [channel]
                for name in names:
                    if not isinstance(name, str):
                        raise InvalidInput("channel must be a string or a list of strings")
                    if action == "subscribe":
                        self.subscribe(name, Filter.from_dict(msg.get("filter")))
                    else:
                        self.unsubscribe(name)
            else:
                raise InvalidInput(f"unknown action {action!r}; use subscribe, unsubscribe or ping")
        except (InvalidInput, ValueError) as exc:
            self.control({"type": "error", "message": str(exc)})

    def close(self) -> None:
        """Leave every channel; idempotent."""
        for channel in list(self.channels):
            state = self.channels.pop(channel)
            if state.timer is not None:
                state.timer.cancel()
            self.hub._detach(self, channel)
        if not self.closed:
            self.closed = True
            self.outbox.put_nowait((CLOSE, ""))
            self.hub._sessions.discard(self)
            STREAM_CLIENTS.labels(self.transport).dec()


class StreamHub:
    """Sessions by channel, and one pump per channel from the bus to them."""

    def __init__(
        self, bus: EventBus, throttle_s: float = THROTTLE_S, max_pending: int = MAX_PENDING
    ) -> None:
        self.bus = bus
        self.throttle_s = throttle_s
        self.max_pending = max_pending
        self.slow_drops = 0
        self._sessions: set[ClientSession] = set()
        self._by_channel: dict[str, set[ClientSession]] = {}
        self._pumps: dict[str, asyncio.Task[None]] = {}

    def open(self, transport: str, encoding: str | None = None) -> ClientSession:
        """A new client session (call `close` on it when the connection ends)."""
        session = ClientSession(self, transport, encoding)
        self._sessions.add(session)
        STREAM_CLIENTS.labels(transport).inc()
        return session

    def stats(self) -> dict[str, Any]:
        """Clients per channel and drops so far, for `/api/v1/stream/stats`."""
        return {
            "clients": len(self._sessions),
            "channels": {c: len(self._by_channel.get(c, ())) for c in CHANNELS},
            "slow_drops": self.slow_drops,
            "throttle_s": self.throttle_s,
        }

    async def stop(self) -> None:
        """End every session and pump (at shutdown)."""
        for session in list(self._sessions):
            session.control({"type": "bye"})
            session.close()
        for task in self._pumps.values():
            task.cancel()
        await asyncio.gather(*self._pumps.values(), return_exceptions=True)
        self._pumps.clear()

    def _attach(self, session: ClientSession, channel: str) -> None:
        self._by_channel.setdefault(channel, set()).add(session)
        pump = self._pumps.get(channel)
        if pump is None or pump.done():
            self._pumps[channel] = asyncio.create_task(
                self._pump(channel), name=f"stream:{channel}"
            )

    def _detach(self, session: ClientSession, channel: str) -> None:
        self._by_channel.get(channel, set()).discard(session)

    async def _pump(self, channel: str) -> None:
        sub = self.bus.subscribe(channel)
        try:
            async for event in sub:
                self._dispatch(event)
        finally:
            sub.close()

    def _dispatch(self, event: Event) -> None:
        """Filter once per distinct filter, then hand the event to every subscribed session."""
        prepared: dict[Filter, Prepared | None] = {}
        published = published_monotonic(event)
        for session in list(self._by_channel.get(event.channel, ())):
            state = session.channels.get(event.channel)
            if state is None:
                continue
            flt = state.filter
            if flt not in prepared:
                data = flt.apply(event.payload)
                prepared[flt] = None if data is None else Prepared(event, data, published)
            item = prepared[flt]
            if item is not None:
                try:
                    session.deliver(event.channel, item)
                except Exception:  # one broken session must not stop the others
                    log.exception("stream: delivering to a session failed")
