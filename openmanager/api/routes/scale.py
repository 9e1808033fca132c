"""Scale API: GET /api/v1/scale/recommendations, scale up / down / hold per group with reasons."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request

from openmanager.analytics.scale.recommend import ScalePolicy
from openmanager.api.deps import platform_of
from openmanager.api.params import parse_time
from openmanager.services.scale import ScaleService

router = APIRouter(prefix="/api/v1")


@router.get("/scale/recommendations")
async def recommendations(
    request: Request,
    group_by: str = "role",
    target: float = 0.63,
    min_replicas: int = 1,
    max_replicas: int = 100,
    max_step: int = 4,
    cost: float = 0.10,
    time: str | None = None,
) -> dict[str, Any]:
    """One recommendation per group (servers sharing the `group_by` label), as of `time`."""
    platform = platform_of(request)
    policy = ScalePolicy.for_target(
        target, min_replicas=min_replicas, max_replicas=max_replicas, max_step=max_step,
        cost_per_instance_hour=cost,
    )  # fmt: skip
    at_ms = parse_time(time, "time") if time else None
    svc = ScaleService(platform.queries, clock=platform.clock)
    rows = await asyncio.to_thread(svc.recommend, policy, group_by, at_ms)
    return {"status": "success", "data": {"group_by": group_by, "result": rows}}
