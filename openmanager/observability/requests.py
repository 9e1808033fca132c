"""HTTP middleware: a request id on every request and response, and latency per route.

Plain ASGI (not BaseHTTPMiddleware) to keep the per-request cost to a few microseconds on
the hot read paths. An incoming `X-Request-ID` (up to 128 printable characters) is kept,
otherwise a new one is made; the response carries it back.
"""

from __future__ import annotations

import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openmanager.observability.logs import REQUEST_ID
from openmanager.observability.metrics import HTTP_REQUEST_SECONDS

HEADER = b"x-request-id"
MAX_ID_LENGTH = 128


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == HEADER:
            text = str(value.decode("latin-1"))
            if 0 < len(text) <= MAX_ID_LENGTH and text.isprintable():
                return text
    return None


class RequestContextMiddleware:
    """Sets the request id for logs, echoes it in `X-Request-ID`, observes request latency."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        rid = _incoming_id(scope) or uuid.uuid4().hex
        token = REQUEST_ID.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (HEADER, rid.encode())]
            await send(message)

        try:
            # a WebSocket's messages pass unchanged: no wrapper per message of a stream
            await self.app(scope, receive, send_with_id if scope["type"] == "http" else send)
        finally:
            if scope["type"] == "http":
                route = scope.get("route")
                template = getattr(route, "path", None) or "unmatched"
                HTTP_REQUEST_SECONDS.labels(template, scope["method"], str(status)).observe(
                    time.perf_counter() - started
                )
            REQUEST_ID.reset(token)
