"""The FastAPI application factory: one Platform, its routes, and its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from openmanager import __version__
from openmanager.api.errors import install_error_handlers
from openmanager.api.fastpath import FleetFastPath
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

    app = FastAPI(
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
    app.add_middleware(FleetFastPath, platform=platform)  # inside security: auth still applies
    install_security(app, platform)
    install_openapi(app, auth=platform.settings.security.auth)
    app.add_middleware(RequestContextMiddleware)  # outermost: 401/413/429 carry request ids too
    return app


def install_security(app: FastAPI, platform: Platform) -> None:
    """Size limits, keys and roles, rate limits; CORS outermost so preflights are answered."""
    sec = platform.settings.security
    app.add_middleware(
        SecurityMiddleware,
        auth=sec.auth,
        keys=platform.keys,
        limits=RateLimits(sec.rate_limit_per_ip, sec.rate_limit_per_key, sec.rate_limit_storage),
        max_body_bytes=sec.max_body_bytes,
        key_cache_ttl_s=parse_duration(sec.key_cache_ttl) / 1000,
    )
    if sec.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=sec.cors_origins,
            allow_methods=["*"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type"],
            expose_headers=["Retry-After"],
        )
