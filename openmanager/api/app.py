"""The FastAPI application factory: one Platform, its routes, and its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from openmanager import __version__
from openmanager.api.errors import install_error_handlers
from openmanager.api.routes import (
    anomalies,
    fleet,
    forecast,
    health,
    ingest,
    query,
    rules,
    series,
    status,
    stream,
    web,
)
from openmanager.api.routes import notify as notify_routes
from openmanager.services.platform import Platform


def create_app(platform: Platform) -> FastAPI:
    """Build the HTTP app over a platform; the platform starts and stops with the app."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await platform.start()
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
    for module in (health, status, query, series, fleet, forecast, ingest, rules, stream, web, anomalies):
        app.include_router(module.router)
    app.include_router(notify_routes.router)
    return app
