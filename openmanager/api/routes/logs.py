"""`/api/v1/logs`: stored log lines by time range, server, level, source and text (newest first)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request

from openmanager.api.deps import platform_of
from openmanager.api.params import parse_time
from openmanager.errors import NotFound
from openmanager.logs.store import MAX_LIMIT
from openmanager.units import parse_duration

router = APIRouter()


@router.get("/api/v1/logs")
def logs(
    request: Request,
    server: str | None = Query(None, description="Only this server's lines."),
    level: str | None = Query(
        None, description="Minimum level: debug, info, warning, error, critical."
    ),
    q: str | None = Query(
        None, description="Words or a phrase the message contains (case-insensitive)."
    ),
    source: str | None = Query(None, description="Only this log source (e.g. syslog, postgresql)."),
    start: str | None = Query(
        None, description="Range start (RFC 3339 or Unix s); default end - since."
    ),
    end: str | None = Query(None, description="Range end (RFC 3339 or Unix s); default now."),
    since: str = Query("1h", description="Length of the range when start is absent, e.g. 15m, 1d."),
    limit: int = Query(100, ge=1, le=MAX_LIMIT, description="At most this many lines."),
    incident: int | None = Query(
        None,
        description="Lines of this incident's servers over its window (default level warning).",
    ),
    order: Literal["desc", "asc"] = Query(
        "desc", description="desc = newest first, asc = oldest first."
    ),
) -> dict[str, Any]:
    """Log lines for a server and window: what incident timelines and the dashboard show."""
    platform = platform_of(request)
    if platform.logs is None:
        raise NotFound("logs are disabled (logs.enabled = false)")
    now_ms = int(platform.clock() * 1000)
    if incident is not None:
        inc = platform.incidents.get(incident)
        first, last, found = platform.logs.for_incident(inc, now_ms, level, limit)
        return {
            "status": "success",
            "data": {"start_ms": first, "end_ms": last, "incident": inc.id,
                     "servers": list(inc.servers), "lines": [r.to_dict() for r in found]},
        }  # fmt: skip
    end_ms = parse_time(end, "end") if end is not None else now_ms
    start_ms = parse_time(start, "start") if start is not None else end_ms - parse_duration(since)
    lines = platform.logs.search(
        server, start_ms, end_ms, level, q, source, limit, oldest_first=order == "asc"
    )
    return {
        "status": "success",
        "data": {"start_ms": start_ms, "end_ms": end_ms, "lines": [r.to_dict() for r in lines]},
    }
