"""`/api/v1/anomalies`: stored anomalies with their evidence (newest first), filtered."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from openmanager.api.deps import platform_of
from openmanager.api.params import parse_time
from openmanager.units import parse_duration

router = APIRouter()


@router.get("/api/v1/anomalies")
def anomalies(
    request: Request,
    server: str | None = Query(None, description="Only this server (or instance)."),
    metric: str | None = Query(
        None, description="Only this metric or check (e.g. cpu, memory_leak)."
    ),
    since: str | None = Query(
        None,
        description="Only anomalies at or after this time (unix, RFC 3339, or a duration ago: 1h).",
    ),
    check: str | None = Query(None, description="Same as metric (older name)."),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    """Stored anomalies, newest first, each with series, window, expected band, score, PromQL."""
    svc = platform_of(request).anomalies
    since_s = _since(since, svc.clock()) if since else None
    items = svc.listing(server, metric or check, since_s, limit)
    return {"status": "success", "data": items}


def _since(text: str, now_s: float) -> float:
    """Unix seconds of ``since``: a duration is counted back from now, anything else is a time."""
    if text.strip()[-1:].isalpha():
        return now_s - parse_duration(text) / 1000.0
    return parse_time(text, "since") / 1000.0
