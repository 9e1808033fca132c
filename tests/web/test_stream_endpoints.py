"""WebSocket and SSE streams of a real server: compression, filters, fault visibility, SSE."""

from __future__ import annotations

import asyncio
import json
import time
import zlib
from typing import Any

import httpx
import pytest
import websockets

from tests.web import aio
from tests.web.conftest import TICK_S

pytestmark = pytest.mark.slow


def ws_url(server: str) -> str:
    return server.replace("http://", "ws://") + "/api/v1/stream"


async def next_update(ws: Any, channel: str, timeout_s: float) -> dict[str, Any]:
    async with asyncio.timeout(timeout_s):
        while True:
            msg = json.loads(await ws.recv())
            if msg["type"] == "update" and msg["channel"] == channel:
                return msg


def test_websocket_is_compressed_filtered_and_live(server: str) -> None:
    async def main() -> None:
        async with websockets.connect(ws_url(server)) as ws:
            assert "permessage-deflate" in (
                ws.response.headers.get("Sec-WebSocket-Extensions") or ""
            )
            hello = json.loads(await ws.recv())
            assert hello["type"] == "hello" and "server-metrics" in hello["channels"]
            await ws.send(json.dumps({"action": "subscribe", "channel": "server-metrics",
                                      "filter": {"role": "database"}}))  # fmt: skip
            first = await next_update(ws, "server-metrics", 5)
            stamps = []
            for _ in range(2):
                msg = await next_update(ws, "server-metrics", TICK_S + 3)
                stamps.append(time.monotonic())
                for event in msg["events"]:
                    roles = {s["role"] for s in event["data"]["servers"]}
                    assert roles == {"database"}
                    assert time.time() - event["ts"] < 2.0  # published a moment ago
            assert first["events"][0]["data"]["servers"]
            assert stamps[1] - stamps[0] >= 0.9  # never more than one message a second

    aio.run(main())


def test_websocket_deflate_encoding_sends_compressed_binary_updates(server: str) -> None:
    async def main() -> dict[str, Any]:
        url = ws_url(server) + "?encoding=deflate&channel=server-metrics"
        async with websockets.connect(url, compression=None) as ws:
            async with asyncio.timeout(TICK_S + 5):
                while True:
                    frame = await ws.recv()
                    if isinstance(frame, bytes):
                        return dict(json.loads(zlib.decompress(frame)))

    msg = aio.run(main())
    assert msg["type"] == "update" and msg["channel"] == "server-metrics"
    assert len(msg["events"][0]["data"]["servers"]) == 20


def test_websocket_reports_bad_requests(server: str) -> None:
    async def main() -> list[str]:
        async with websockets.connect(ws_url(server) + "?channel=bogus") as ws:
            kinds = [json.loads(await ws.recv())["type"] for _ in range(2)]
            await ws.send(json.dumps({"action": "dance"}))
            kinds.append(json.loads(await ws.recv())["type"])
            return kinds

    assert aio.run(main()) == ["hello", "error", "error"]

    async def bad_encoding() -> str:
        async with websockets.connect(ws_url(server) + "?encoding=br") as ws:
            return str(json.loads(await ws.recv())["message"])

    assert "unknown encoding 'br'" in aio.run(bad_encoding())


def test_sse_streams_system_status(server: str) -> None:
    url = f"{server}/api/v1/stream/sse"
    with httpx.stream("GET", url, params={"channel": "system-status"}, timeout=10) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        seen: list[dict[str, Any]] = []
        for line in r.iter_lines():
            if line.startswith("data: "):
                msg = json.loads(line[6:])
                if msg["type"] == "update":
                    seen.append(msg)
                if len(seen) == 2:
                    break
    summary = seen[-1]["events"][-1]["data"]["summary"]
    assert summary["total"] == 20
    assert summary["healthy"] + summary["warning"] + summary["critical"] == 20
    assert httpx.get(url, params={"channel": "nope"}).status_code == 400


def test_fault_trigger_endpoint_validates(server: str) -> None:
    bad = httpx.post(f"{server}/api/v1/fleet/faults", json={"scenario": "meteor"})
    assert bad.status_code == 400 and "known" in bad.json()["error"]
    unknown = httpx.post(
        f"{server}/api/v1/fleet/faults", json={"scenario": "cpu_spike", "server": "nope-01"}
    )
    assert unknown.status_code == 404
    stats = httpx.get(f"{server}/api/v1/stream/stats").json()["data"]
    assert set(stats["channels"]) >= {"server-metrics", "system-status", "alerts", "logs"}
