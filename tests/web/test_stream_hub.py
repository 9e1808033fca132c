"""The event bus and the stream hub in-process: filters, throttling, batching, slow clients."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import zlib
from typing import Any

import pytest

from openmanager.errors import InvalidInput
from openmanager.services.bus import EventBus
from openmanager.services.stream import ClientSession, Filter, StreamHub
from tests.web import aio

FLEET = {
    "time_ms": 1,
    "servers": [
        {"name": "db-1", "role": "database", "environment": "aws"},
        {"name": "web-1", "role": "web", "environment": "gcp"},
        {"name": "web-2", "role": "web", "environment": "aws"},
    ],
}


async def take(session: ClientSession, timeout_s: float) -> list[dict[str, Any]]:
    """Every message the session's sender would write within `timeout_s`."""
    out: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                channel, text = await session.next_message()
                session.sent(channel)
                if isinstance(text, bytes):
                    text = zlib.decompress(text).decode()
                if text:
                    out.append(json.loads(text))
    except TimeoutError:
        pass
    return out


def updates(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if m["type"] == "update"]


def test_bus_delivers_across_threads_and_keeps_the_latest() -> None:
    async def main() -> list[int]:
        bus = EventBus()
        sub = bus.subscribe("logs", maxsize=3)
        t = threading.Thread(target=lambda: [bus.publish("logs", {"n": i}) for i in range(5)])
        t.start()
        t.join()
        await asyncio.sleep(0.05)
        got = [sub.queue.get_nowait().payload["n"] for _ in range(sub.queue.qsize())]
        assert sub.dropped == 2  # a slow subscriber loses the oldest, never blocks publishers
        latest = bus.latest("logs")
        assert latest is not None and latest.payload == {"n": 4}
        sub.close()
        assert bus.subscribers("logs") == 0
        return got

    assert aio.run(main()) == [2, 3, 4]


def test_filters_apply_per_item_and_reject_unknown_keys() -> None:
    web = Filter.from_dict({"role": "web"}).apply(FLEET)
    assert web is not None and [s["name"] for s in web["servers"]] == ["web-1", "web-2"]
    one = Filter.from_dict({"server": "web-2"}).apply(FLEET)
    assert one is not None and [s["name"] for s in one["servers"]] == ["web-2"]
    both = Filter(role="web", environment="aws").apply(FLEET)
    assert both is not None and [s["name"] for s in both["servers"]] == ["web-2"]
    assert Filter(role="cache").apply(FLEET) is None
    assert Filter(server="db-1").apply({"server": "web-1", "alert": "x"}) is None
    alert = {"labels": {"alertname": "HighCPU", "server": "db-1", "role": "database"}}
    assert Filter(role="database").apply(alert) is alert
    assert Filter(server="web-1").apply(alert) is None
    evidence = {"series": {"server": "web-1", "role": "web"}, "check": "cpu"}
    assert Filter(server="web-1").apply(evidence) is evidence
    assert Filter(role="cache").apply(evidence) is None
    assert Filter().apply(FLEET) is FLEET
    with pytest.raises(InvalidInput):
        Filter.from_dict({"host": "x"})


def test_updates_are_throttled_to_one_per_second_and_batched() -> None:
    async def main() -> list[dict[str, Any]]:
        bus = EventBus()
        hub = StreamHub(bus, throttle_s=1.0)
        session = hub.open("test")
        session.subscribe("logs", Filter())
        await asyncio.sleep(0.05)  # the channel's pump subscribes
        for i in range(10):
            bus.publish("logs", {"n": i})
            await asyncio.sleep(0.02)
        started = time.monotonic()
        messages = await take(session, 1.5)
        assert time.monotonic() - started >= 1.4
        await hub.stop()
        return updates(messages)

    got = aio.run(main())
    assert len(got) == 2, got  # the first at once, the other nine together a second later
    assert [e["data"]["n"] for e in got[0]["events"]] == [0]
    assert [e["data"]["n"] for e in got[1]["events"]] == list(range(1, 10))


def test_events_at_the_throttle_rate_go_out_at_once_despite_jitter() -> None:
    """A tick every second that jitters by 0.2 s is sent as it comes: the throttle counts from
    each message's slot, so a late tick does not push the next on-time one later."""

    async def main() -> list[tuple[int, float]]:
        bus = EventBus()
        hub = StreamHub(bus, throttle_s=1.0)
        session = hub.open("test")
        session.subscribe("server-metrics", Filter())
        await asyncio.sleep(0.05)
        got: list[tuple[int, float]] = []  # (n, seconds from publish to the queued message)
        start = time.monotonic()
        published: dict[int, float] = {}
        for n, at in enumerate((0.0, 1.2, 2.0, 3.2, 4.0)):  # late, on time, late, on time
            await asyncio.sleep(max(0.0, start + at - time.monotonic()))
            published[n] = time.monotonic()
            bus.publish("server-metrics", {"n": n})
            while len(got) <= n:
                channel, text = await asyncio.wait_for(session.next_message(), 2.0)
                session.sent(channel)
                if channel == "server-metrics":
                    assert isinstance(text, str)
                    events = json.loads(text)["events"]
                    got += [(e["data"]["n"], time.monotonic() - published[n]) for e in events]
        await hub.stop()
        return got

    got = aio.run(main())
    assert [n for n, _ in got] == [0, 1, 2, 3, 4]  # one message each, none batched
    assert max(delay for _, delay in got) < 0.1, got  # strict 1 s gaps held #2 and #4 0.2 s


def test_a_new_subscriber_gets_the_latest_state_filtered() -> None:
    async def main() -> list[dict[str, Any]]:
        bus = EventBus()
        bus.publish("server-metrics", FLEET)
        hub = StreamHub(bus)
        session = hub.open("test")
        session.handle(json.dumps({"action": "subscribe", "channel": "server-metrics",
                                   "filter": {"role": "database"}}))  # fmt: skip
        session.handle(json.dumps({"action": "subscribe", "channel": "no-such"}))
        session.handle("not json")
        messages = await take(session, 0.2)
        await hub.stop()
        return messages

    messages = aio.run(main())
    kinds = [m["type"] for m in messages]
    assert kinds == ["subscribed", "update", "error", "error"], kinds
    servers = messages[1]["events"][0]["data"]["servers"]
    assert [s["name"] for s in servers] == ["db-1"]


def test_an_event_in_flight_when_a_client_subscribes_comes_once() -> None:
    """The latest event, sent on subscribing, may still be queued for the channel's pump."""

    async def main() -> list[dict[str, Any]]:
        bus = EventBus()
        hub = StreamHub(bus)
        hub.open("test").subscribe("server-metrics", Filter())  # starts the channel's pump
        await asyncio.sleep(0.05)
        bus.publish("server-metrics", FLEET)  # queued for the pump, and the latest already
        late = hub.open("test")
        late.subscribe("server-metrics", Filter())
        messages = await take(late, 1.3)
        await hub.stop()
        return updates(messages)

    got = aio.run(main())
    assert [[e["seq"] for e in m["events"]] for m in got] == [[1]]


def test_a_slow_client_is_dropped_from_the_channel_without_slowing_others() -> None:
    async def main() -> tuple[list[dict[str, Any]], int]:
        bus = EventBus()
        hub = StreamHub(bus, throttle_s=0.01, max_pending=3)
        slow, fast = hub.open("test"), hub.open("test")
        slow.subscribe("logs", Filter())
        fast.subscribe("logs", Filter())
        await asyncio.sleep(0.05)
        fast_updates = 0
        for i in range(10):
            bus.publish("logs", {"n": i})
            await asyncio.sleep(0.03)
            fast_updates += len(updates(await take(fast, 0.001)))  # `fast` keeps up
        messages = [json.loads(slow.outbox.get_nowait()[1]) for _ in range(slow.outbox.qsize())]
        assert "logs" not in slow.channels and "logs" in fast.channels
        assert hub.stats()["slow_drops"] == 1
        await hub.stop()
        return messages, fast_updates

    slow_messages, fast_updates = aio.run(main())
    assert len(updates(slow_messages)) == 3
    dropped = [m for m in slow_messages if m["type"] == "dropped"]
    assert len(dropped) == 1 and dropped[0]["channel"] == "logs"
    assert fast_updates == 10


def test_deflate_clients_get_one_shared_compressed_frame_per_update() -> None:
    """`encoding=deflate` sessions get binary zlib frames holding the same JSON as text
    sessions; clients with the same filter share one compressed object (compressed once)."""

    async def main() -> tuple[list[Any], list[dict[str, Any]]]:
        bus = EventBus()
        hub = StreamHub(bus)
        plain, *packed = hub.open("test"), hub.open("test", "deflate"), hub.open("test", "deflate")
        for session in (plain, *packed):
            session.subscribe("server-metrics", Filter(role="web"))
        await asyncio.sleep(0.05)
        bus.publish("server-metrics", FLEET)
        frames = []
        for session in packed:
            while True:
                channel, message = await asyncio.wait_for(session.next_message(), 1)
                if channel == "server-metrics":
                    frames.append(message)
                    break
        text = updates(await take(plain, 0.2))
        await hub.stop()
        return frames, text

    frames, text = aio.run(main())
    assert all(isinstance(f, bytes) for f in frames) and frames[0] is frames[1]
    assert json.loads(zlib.decompress(frames[0])) == text[0]
    assert [s["name"] for s in text[0]["events"][0]["data"]["servers"]] == ["web-1", "web-2"]
    with pytest.raises(InvalidInput, match="unknown encoding 'br'"):
        StreamHub(EventBus()).open("test", "br")
