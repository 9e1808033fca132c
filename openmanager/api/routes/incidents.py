"""Incidents over HTTP: list, show (timeline and ranked causes), acknowledge, resolve."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Path, Query, Request
from pydantic import BaseModel

from openmanager.api.deps import platform_of
from openmanager.logs.record import LogRecord
from openmanager.services.incidents import IncidentService

router = APIRouter()

IdParam = Path(..., ge=1, le=2**63 - 1, description="Incident id (from the list).")


class Actor(BaseModel):
    """Who acknowledges or resolves (optional)."""

    by: str = ""


def incidents_of(request: Request) -> IncidentService:
    """The platform's incident service."""
    return platform_of(request).incidents


def _ok(data: Any) -> dict[str, Any]:
    return {"status": "success", "data": data}


def _log_entry(record: LogRecord) -> dict[str, Any]:
    """A log line as a timeline entry (the shape of the incident's own events)."""
    return {
        "at": record.ts_ms / 1000,
        "kind": "log",
        "text": f"{record.level}: {record.message}",
        "server": record.server,
        "key": f"log:{record.source}",
        "data": {"level": record.level, "source": record.source},
    }


def _who(body: Actor | None) -> str:
    return (body.by if body is not None else "") or "api"


@router.get("/api/v1/incidents")
def list_incidents(
    request: Request,
    status: str | None = Query(None, description="Only incidents in this status."),
    limit: int = Query(100, ge=1, le=10_000),
) -> dict[str, Any]:
    """Incidents, newest first (without their timelines)."""
    items = incidents_of(request).list(status, limit)
    return _ok([i.to_dict(with_timeline=False) for i in items])


@router.get("/api/v1/incidents/{ident}")
def show_incident(
    request: Request,
    ident: int = IdParam,
    causes: int = Query(5, ge=0, le=50, description="How many ranked causes to include."),
    logs: int = Query(
        50,
        ge=0,
        le=1000,
        description="Warning and error log lines of its servers to place on the timeline.",
    ),  # fmt: skip
) -> dict[str, Any]:
    """One incident with its timeline (log lines of its servers included) and its ranked
    candidate causes (with evidence)."""
    platform = platform_of(request)
    service = incidents_of(request)
    incident = service.get(ident)
    out = incident.to_dict()
    if logs and platform.logs is not None:
        now_ms = int(platform.clock() * 1000)
        _, _, lines = platform.logs.for_incident(incident, now_ms, limit=logs)
        out["timeline"] = sorted(out["timeline"] + [_log_entry(r) for r in lines],
                                 key=lambda e: e["at"])  # fmt: skip
    out["causes"] = [c.to_dict() for c in service.causes(ident, causes)] if causes else []
    return _ok(out)


@router.post("/api/v1/incidents/{ident}/ack")
def acknowledge_incident(
    request: Request, ident: int = IdParam, body: Actor | None = Body(None)
) -> dict[str, Any]:
    """Acknowledge: someone is on it (body: optional {"by": NAME})."""
    return _ok(incidents_of(request).acknowledge(ident, _who(body)).to_dict())


@router.post("/api/v1/incidents/{ident}/resolve")
def resolve_incident(
    request: Request, ident: int = IdParam, body: Actor | None = Body(None)
) -> dict[str, Any]:
    """Resolve by hand (body: optional {"by": NAME})."""
    return _ok(incidents_of(request).resolve(ident, _who(body)).to_dict())
