"""Risk API: GET /api/v1/risk, the failure-risk score per server with its contributing factors."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request

from openmanager.api.deps import platform_of
from openmanager.api.params import parse_time
from openmanager.services.risk import RiskService

router = APIRouter(prefix="/api/v1")


@router.get("/risk")
async def risk(request: Request, time: str | None = None, limit: int = 0) -> dict[str, Any]:
    """Every server's risk (0-1) at `time` (default now), highest first; `limit` keeps the top N."""
    platform = platform_of(request)
    at_ms = parse_time(time, "time") if time else None
    svc = RiskService(platform.queries, clock=platform.clock)
    rows = await asyncio.to_thread(svc.scores, at_ms)
    if limit > 0:
        rows = rows[:limit]
    return {"status": "success", "data": {"result": [r.to_dict() for r in rows]}}
