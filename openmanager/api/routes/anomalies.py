"""`/api/v1/anomalies`: recent anomalies with their evidence (newest first)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from openmanager.api.deps import platform_of
from openmanager.api.params import parse_time

router = APIRouter()


@router.get("/api/v1/anomalies")
def anomalies(
    request: Request,
    since: str | None = Query(None, description="Only anomalies ending at or after this time."),
    check: str | None = Query(None, description="Only this check (e.g. cpu, memory_leak)."),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    """Anomalies the detection job found, each with series, window, expected band, score, PromQL."""
    svc = platform_of(request).anomalies
    since_s = parse_time(since, "since") / 1000.0 if since is not None else None
    items = svc.recent(since_s, check)[:limit]
    return {"status": "success", "data": [e.to_dict() for e in items]}
