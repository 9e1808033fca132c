"""One ASGI middleware in front of every route: body size, API key and role, rate limits.

Pure ASGI (no BaseHTTPMiddleware) so the cost per request stays a few dictionary lookups.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openmanager.api.errors import error_response
from openmanager.security.keys import KeyStore, Principal
from openmanager.security.ratelimit import RateLimits
from openmanager.security.roles import allows, required_role

log = logging.getLogger(__name__)

NEGATIVE_TTL_S = 1.0
"""How long an unknown key is remembered as unknown (bounds lookups by a client guessing keys)."""


class BodyTooLarge(Exception):
    """The request body went past the limit while being read."""


class SecurityMiddleware:
    """Rejects with 413 / 401 / 403 / 429 before a route runs; lets everything else through."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        auth: bool,
        keys: KeyStore | None,
        limits: RateLimits,
        max_body_bytes: int,
        key_cache_ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.auth = auth
        self.keys = keys
        self.limits = limits
        self.max_body = max_body_bytes
        self.ttl = key_cache_ttl_s
        self.clock = clock
        self._cache: dict[str, tuple[Principal | None, float]] = {}
        self._revision = keys.revision if keys is not None else 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        if scope["type"] == "http":
            length = headers.get("content-length", "")
            if length.isdigit() and int(length) > self.max_body:
                await self._reject(scope, receive, send, 413, "too_large", self._size_msg())
                return
        method = scope.get("method", "GET")
        need = required_role(method, scope["path"])
        if need is not None and self.limits.per_ip is not None:
            client = scope.get("client")
            wait = await self.limits.retry_after_ip(client[0] if client else "unknown")
            if wait is not None:
                await self._too_many(scope, receive, send, wait, "this address")
                return
        if self.auth and need is not None:
            secret = _presented_key(scope, headers)
            if not secret:
                await self._reject(
                    scope, receive, send, 401, "unauthorized", "an API key is required"
                )
                return
            principal = await self._principal(secret)
            if principal is None:
                await self._reject(
                    scope, receive, send, 401, "unauthorized", "the API key is not valid"
                )
                return
            if not allows(principal.role, need):
                msg = f"this needs the {need} role; the key has {principal.role}"
                await self._reject(scope, receive, send, 403, "forbidden", msg)
                return
            scope.setdefault("state", {})["principal"] = principal
            if self.limits.per_key is not None:
                wait = await self.limits.retry_after_key(principal.key_id)
                if wait is not None:
                    await self._too_many(scope, receive, send, wait, "this API key")
                    return
        if scope["type"] == "http" and _may_exceed(scope, headers):
            await self._call_limited(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    def _size_msg(self) -> str:
        return f"request body larger than {self.max_body} bytes (security.max_body_bytes)"

    async def _call_limited(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app, counting body bytes as they arrive (chunked bodies have no length)."""
        seen = 0
        started = too_large = False

        async def counted_receive() -> Message:
            nonlocal seen, too_large
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    too_large = True
                    raise BodyTooLarge
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if too_large:  # FastAPI's error layer answers 500 for it; the 413 below replaces that
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge:
            if started:
                raise
            await self._reject(scope, receive, send, 413, "too_large", self._size_msg())

    async def _principal(self, secret: str) -> Principal | None:
        now = self.clock()
        if self.keys is not None and self.keys.revision != self._revision:
            self._cache.clear()  # a key was revoked or a user disabled here: forget at once
            self._revision = self.keys.revision
        cached = self._cache.get(secret)
        if cached is not None and cached[1] > now:
            return cached[0]
        if self.keys is None:
            return None
        principal = await asyncio.to_thread(self.keys.verify, secret)
        ttl = self.ttl if principal is not None else NEGATIVE_TTL_S
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[secret] = (principal, now + ttl)
        return principal

    async def _too_many(
        self, scope: Scope, receive: Receive, send: Send, wait: float, who: str
    ) -> None:
        msg = f"rate limit for {who} exceeded; retry in {int(wait)}s"
        await self._reject(
            scope, receive, send, 429, "too_many_requests", msg, {"Retry-After": str(int(wait))}
        )

    async def _reject(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        status: int,
        kind: str,
        message: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1008, "reason": message[:120]})
            return
        response = error_response(Request(scope), status, kind, message)
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="openmanager"'
        for name, value in (headers or {}).items():
            response.headers[name] = value
        await response(scope, receive, send)


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}


def _may_exceed(scope: Scope, headers: dict[str, str]) -> bool:
    """Whether the body must be counted as it is read. An HTTP/1.x request without
    Transfer-Encoding has no body or one of the Content-Length checked before (the server
    enforces it), so most requests skip the counting wrappers."""
    return "transfer-encoding" in headers or scope.get("http_version") not in ("1.1", "1.0")


def _presented_key(scope: Scope, headers: dict[str, Any]) -> str:
    """The key from `Authorization: Bearer`, `X-API-Key`, or (streams only) `?api_key=`."""
    auth = str(headers.get("authorization", ""))
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    if headers.get("x-api-key"):
        return str(headers["x-api-key"]).strip()
    if scope["type"] == "websocket" or scope["path"].endswith("/sse"):
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        return str(query.get("api_key", [""])[0])
    return ""
