"""The fleet: JSON state per server with a summary, and the Prometheus text exposition."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from openmanager.api.deps import platform_of
from openmanager.errors import Unavailable
from openmanager.ingest.exposition_write import TEXT_CONTENT_TYPE
from openmanager.services.fleet import FleetService

router = APIRouter()


def fleet_of(request: Request) -> FleetService:
    """The fleet source, or 503 when the simulator is disabled."""
    fleet = platform_of(request).fleet
    if fleet is None:
        raise Unavailable("the simulated fleet is disabled (simulator.enabled = false)")
    return fleet


@router.get("/api/v1/fleet")
async def fleet(request: Request) -> Response:
    """Every server with its latest figures and health, plus totals and averages.

    An instance without its own simulator serves the fleet state other instances share
    through Redis (the latest `server-metrics` and `system-status` events). Usually answered
    by `openmanager.api.fastpath` before routing; this route documents it and answers the 503.
    """
    body = platform_of(request).fleet_body()
    if body is None:
        fleet_of(request)  # raises the 503 that explains why there is no fleet
    return Response(body, media_type="application/json")


@router.get("/api/v1/fleet/ground_truth")
def ground_truth(request: Request) -> dict[str, Any]:
    """Faults the simulator injected so far (the benchmark's labels)."""
    return {"status": "success", "data": fleet_of(request).ground_truth()}


class FaultRequest(BaseModel):
    """A fault scenario to inject now; `server` defaults to the scenario's usual root."""

    scenario: str
    server: str | None = None


@router.post("/api/v1/fleet/faults")
def trigger_fault(body: FaultRequest, request: Request) -> dict[str, Any]:
    """Inject a fault scenario at the next tick; returns its ground-truth record."""
    return {"status": "success", "data": fleet_of(request).trigger(body.scenario, body.server)}


@router.get("/api/v1/fleet/{server}")
def server(server: str, request: Request) -> dict[str, Any]:
    """One server's latest figures and health."""
    return {"status": "success", "data": fleet_of(request).server(server)}


@router.get("/metrics/fleet", response_class=PlainTextResponse)
def fleet_metrics(request: Request) -> PlainTextResponse:
    """The whole fleet in the Prometheus text format, for a real Prometheus to scrape."""
    return PlainTextResponse(fleet_of(request).exposition(), media_type=TEXT_CONTENT_TYPE)


@router.get("/metrics/fleet/{server}", response_class=PlainTextResponse)
def server_metrics(server: str, request: Request) -> PlainTextResponse:
    """One server's series in the Prometheus text format."""
    return PlainTextResponse(fleet_of(request).exposition(server), media_type=TEXT_CONTENT_TYPE)
