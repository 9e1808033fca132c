"""The FastAPI application factory: one Platform, its routes, and its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

from openmanager import __version__
from openmanager.api.errors import install_error_handlers
from openmanager.api.fastpath import FleetFastPath, RemoteWriteFastPath
from openmanager.api.openapi import install_openapi
from openmanager.api.routes import (
    anomalies,
    assistant,
    fleet,
    forecast,
    health,
    incidents,
    ingest,
    keys,
    logs,
    models,
    query,
    risk,
    rules,
    scale,
    series,
    status,
    stream,
    web,
)
from openmanager.api.routes import notify as notify_routes
from openmanager.observability.requests import RequestContextMiddleware
from openmanager.security.middleware import SecurityMiddleware
from openmanager.security.ratelimit import RateLimits
from openmanager.services.platform import Platform
from openmanager.units import parse_duration


class OpenManagerAPI(FastAPI):
    """FastAPI with our own layers (request ids, CORS, security, the fleet fast path) wrapped
    around its whole middleware stack rather than inside it.

    They are plain ASGI and handle their own errors, so placing them outermost changes no
    response; it spares the most polled requests FastAPI's error, telemetry and body-limit
    layers, which together cost about as much as the fleet summary's answer itself.
    """

    outer: Callable[[ASGIApp], ASGIApp] | None = None

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        return stack if self.outer is None else self.outer(stack)


def create_app(platform: Platform, on_started: Callable[[], None] | None = None) -> FastAPI:
    """Build the HTTP app over a platform; the platform starts and stops with the app.

    `on_started` runs once the platform has started, before the first request is served.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await platform.start()
        if on_started is not None:
            on_started()
        try:
            yield
        finally:
            await platform.stop()

    app = OpenManagerAPI(
        title="OpenManager",
        version=__version__,
        description="Server monitoring with an embedded TSDB and a Prometheus-compatible API.",
        lifespan=lifespan,
    )
    app.state.platform = platform
    install_error_handlers(app)
    # The most polled routes first: FastAPI matches routes in order.
    for module in (
        fleet,
        health,
        query,
        status,
        series,
        forecast,
        ingest,
        rules,
        stream,
        web,
        anomalies,
        assistant,
        incidents,
        logs,
        risk,
        scale,
        models,
    ):
        app.include_router(module.router)
    app.include_router(notify_routes.router)
    app.include_router(keys.router)
    install_openapi(app, auth=platform.settings.security.auth)
    app.outer = outer_layers(platform)
    return app


def outer_layers(platform: Platform) -> Callable[[ASGIApp], ASGIApp]:
    """From the outside in: request ids (so 401/413/429 carry them too), CORS (so preflights
    are answered), size limits, keys and roles, rate limits, then the fast paths (inside
    security, so keys, roles and limits apply to them too)."""
    sec = platform.settings.security
    limits = RateLimits(sec.rate_limit_per_ip, sec.rate_limit_per_key, sec.rate_limit_storage)

    def wrap(stack: ASGIApp) -> ASGIApp:
        app: ASGIApp = FleetFastPath(RemoteWriteFastPath(stack, platform), platform)
        app = SecurityMiddleware(
            app,
            auth=sec.auth,
            keys=platform.keys,
            limits=limits,
            max_body_bytes=sec.max_body_bytes,
            key_cache_ttl_s=parse_duration(sec.key_cache_ttl) / 1000,
        )
        if sec.cors_origins:
            app = CORSMiddleware(
                app,
                allow_origins=sec.cors_origins,
                allow_methods=["*"],
                allow_headers=["Authorization", "X-API-Key", "Content-Type"],
                expose_headers=["Retry-After"],
            )
        return RequestContextMiddleware(app)

    return wrap
