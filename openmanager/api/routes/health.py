"""Liveness, readiness and the app's own metrics (prometheus-client)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from openmanager.api.deps import platform_of

router = APIRouter()


@router.get("/-/healthy", response_class=PlainTextResponse)
def healthy() -> str:
    """Always 200 while the process serves HTTP."""
    return "OpenManager is Healthy.\n"


@router.get("/-/ready", response_class=PlainTextResponse)
def ready(request: Request) -> Response:
    """200 once storage is open and the first data is in; 503 with the reason before."""
    reason = platform_of(request).not_ready_reason()
    if reason:
        return PlainTextResponse(f"OpenManager is not ready: {reason}\n", status_code=503)
    return PlainTextResponse("OpenManager is Ready.\n")


@router.get("/metrics")
def metrics() -> Response:
    """The app's own metrics in the Prometheus text format."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
