"""Fast paths for the busiest endpoints: the fleet summary and the remote-write receiver.

Dashboards and load balancers poll the fleet summary far more than anything else. Its body
is rendered once per simulator tick (or per shared event from Redis); this ASGI layer sends
those bytes before FastAPI's own middleware stack, routing and dependency resolution, which
cost most of the request otherwise. It sits inside the request-id and security layers (see
`openmanager.api.app.OpenManagerAPI`), so keys, roles, rate limits, request ids and latency
metrics apply as to every route; the FastAPI route of the same path stays for the OpenAPI spec
and answers whenever there is no fleet (the 503 that explains why). Remote-write senders post
hundreds of requests a second; theirs go the same way to the receiver.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Receive, Scope, Send

from openmanager.api.routes.ingest import receive_write

if TYPE_CHECKING:
    from openmanager.services.platform import Platform

PATH = "/api/v1/fleet"
ROUTE = SimpleNamespace(path=PATH)
"""What the request metrics read as the route template."""
WRITE_PATH = "/api/v1/write"
WRITE_ROUTE = SimpleNamespace(path=WRITE_PATH)


class FleetFastPath:
    """Answers GET/HEAD /api/v1/fleet from `Platform.fleet_body()`; passes everything else on."""

    def __init__(self, app: ASGIApp, platform: Platform) -> None:
        self.app = app
        self.platform = platform

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != PATH
            or scope["method"] not in ("GET", "HEAD")
        ):
            await self.app(scope, receive, send)
            return
        body = self.platform.fleet_body()
        if body is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = ROUTE
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send(
            {"type": "http.response.body", "body": body if scope["method"] == "GET" else b""}
        )


class RemoteWriteFastPath:
    """Answers POST /api/v1/write with the platform's receiver; passes everything else on."""

    def __init__(self, app: ASGIApp, platform: Platform) -> None:
        self.app = app
        self.platform = platform

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != WRITE_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        scope["route"] = WRITE_ROUTE
        parts = []
        while True:  # the security layer outside has already capped the size
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            parts.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        status, text = await receive_write(self.platform.remote_write, b"".join(parts))
        body = text.encode()
        headers = [(b"content-length", b"%d" % len(body))]
        if body:
            headers.append((b"content-type", b"text/plain; charset=utf-8"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
