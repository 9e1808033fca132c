"""Live streams: WebSocket `/api/v1/stream` and Server-Sent Events `/api/v1/stream/sse`.

Both carry the same JSON messages (see `openmanager.services.stream`). WebSocket clients send
`{"action": "subscribe", "channel": "server-metrics", "filter": {"role": "web"}}` and
`{"action": "unsubscribe", "channel": ...}`; SSE clients name channels and filters in the URL.
Initial channels may also be given as `?channel=a,b&server=..&role=..` on the WebSocket URL;
`?encoding=deflate` asks for updates as zlib-compressed binary frames, compressed once for all
clients (cheaper for the server than permessage-deflate, which compresses per connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any, cast

from fastapi import APIRouter, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse
from starlette.requests import HTTPConnection

from openmanager.errors import InvalidInput
from openmanager.services.bus import CHANNELS
from openmanager.services.stream import CLOSE, ClientSession, Filter, StreamHub

router = APIRouter(prefix="/api/v1/stream")

KEEPALIVE_S = 15.0
"""An SSE comment line this often keeps proxies from closing an idle stream."""


def hub_of(conn: HTTPConnection) -> StreamHub:
    """The platform's stream hub (WebSocket and HTTP connections alike)."""
    return cast(StreamHub, conn.app.state.platform.streams)


def channels_of(values: list[str]) -> list[str]:
    """Channel names from repeated and/or comma-separated parameters, validated."""
    names = [c.strip() for v in values for c in v.split(",") if c.strip()]
    for name in names:
        if name not in CHANNELS:
            raise InvalidInput(f"unknown channel {name!r}; known: {', '.join(CHANNELS)}")
    return names


def hello(hub: StreamHub) -> dict[str, Any]:
    """The first message of every stream: what can be subscribed and how often it comes."""
    return {"type": "hello", "channels": list(CHANNELS), "throttle_s": hub.throttle_s}


async def _send_loop(websocket: WebSocket, session: ClientSession) -> None:
    while True:
        channel, text = await session.next_message()
        if channel == CLOSE:
            await websocket.close(1001)
            return
        if isinstance(text, bytes):
            await websocket.send_bytes(text)
        else:
            await websocket.send_text(text)
        session.sent(channel)


@router.websocket("")
async def stream_ws(websocket: WebSocket) -> None:
    """Subscribe/unsubscribe over one socket; updates at most once a second per channel."""
    hub = hub_of(websocket)
    params = websocket.query_params
    await websocket.accept()
    try:
        session = hub.open("websocket", params.get("encoding") or None)
    except InvalidInput as exc:
        await websocket.send_text(json.dumps({"type": "error", "message": str(exc)}))
        await websocket.close(1008)
        return
    session.control(hello(hub))
    sender = asyncio.create_task(_send_loop(websocket, session))
    try:
        try:
            flt = Filter.from_dict(
                {k: v for k, v in params.items() if k not in ("channel", "encoding")}
            )
            for name in channels_of(params.getlist("channel")):
                session.subscribe(name, flt)
        except InvalidInput as exc:
            session.control({"type": "error", "message": str(exc)})
        receiver = asyncio.create_task(_receive_loop(websocket, session))
        done, _ = await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
        receiver.cancel()
        for task in done:
            failure = task.exception()
            if failure is not None and not isinstance(failure, WebSocketDisconnect | RuntimeError):
                raise failure
    finally:
        sender.cancel()
        session.close()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await sender


async def _receive_loop(websocket: WebSocket, session: ClientSession) -> None:
    async for text in websocket.iter_text():
        session.handle(text)


@router.get("/sse")
async def stream_sse(
    request: Request,
    channel: list[str] = Query(..., description="Channels, repeated or comma-separated."),
    server: str | None = None,
    role: str | None = None,
    environment: str | None = None,
) -> StreamingResponse:
    """The same channels as Server-Sent Events (one `data:` line of JSON per message)."""
    hub = hub_of(request)
    names = channels_of(channel)
    flt = Filter(server=server or None, role=role or None, environment=environment or None)
    session = hub.open("sse")
    session.control(hello(hub))
    for name in names:
        session.subscribe(name, flt)

    async def events() -> AsyncIterator[str]:
        try:
            yield "retry: 2000\n\n"
            while True:
                try:
                    name, text = await asyncio.wait_for(session.next_message(), KEEPALIVE_S)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                if name == CLOSE:
                    return
                assert isinstance(text, str)  # SSE sessions are never encoded
                yield f"data: {text}\n\n"
                session.sent(name)
        finally:
            session.close()

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


@router.get("/stats")
def stream_stats(request: Request) -> dict[str, Any]:
    """Connected clients per channel and how many were dropped as too slow."""
    return {"status": "success", "data": hub_of(request).stats()}
