"""Liveness, readiness (with the health of each outside dependency) and the app's own metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from openmanager.api.deps import platform_of

router = APIRouter()


@router.get("/-/healthy", response_class=PlainTextResponse)
async def healthy() -> str:
    """Always 200 while the process serves HTTP."""
    return "OpenManager is Healthy.\n"


@router.get("/-/ready", response_class=PlainTextResponse)
async def ready(request: Request) -> Response:
    """200 once storage is open and the first data is in; 503 with the reason before.

    A dependency that is down (e.g. Redis) does not make the instance unready: it keeps
    serving from memory, so the answer stays 200 but says `degraded` and names the fault.
    """
    platform = platform_of(request)
    reason = platform.not_ready_reason()
    if reason:
        return PlainTextResponse(f"OpenManager is not ready: {reason}\n", status_code=503)
    down = platform.dependencies.degraded()
    if not down:
        return PlainTextResponse("OpenManager is Ready.\n")
    lines = [f"{d.name}: down since {d.since:.0f} ({d.last_error})" for d in down]
    return PlainTextResponse(
        "OpenManager is Ready (degraded, serving from memory).\n" + "\n".join(lines) + "\n",
        headers={"X-OpenManager-Degraded": ",".join(d.name for d in down)},
    )


@router.get("/api/v1/status/dependencies")
def dependencies(request: Request) -> dict[str, Any]:
    """Health of Redis and the other outside dependencies, and which instance leads."""
    return {"status": "success", "data": platform_of(request).dependency_status()}


@router.get("/metrics")
def metrics() -> Response:
    """The app's own metrics in the Prometheus text format."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
