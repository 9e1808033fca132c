"""Model registry API: list versions, train a version, promote one, roll back (/api/v1/models)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from openmanager.analytics.models import FORECASTER
from openmanager.api.deps import platform_of
from openmanager.api.params import parse_step, parse_time

router = APIRouter(prefix="/api/v1")


class TrainRequest(BaseModel):
    """A training request: a new forecaster needs `expr`; without it the model's own spec is
    reused. A detector model (`kind` "detector") named after an anomaly check starts from that
    check's expression and detector; `detector` picks another detector."""

    name: str = Field(min_length=1, max_length=200)
    kind: str = FORECASTER
    detector: str | None = None
    expr: str | None = None
    horizon: str = "1h"
    season: str = "auto"
    level: float = 0.8
    window: str | None = None
    step: str | None = None
    time: str | None = None
    auto_promote: bool | None = None


def _ok(data: Any) -> dict[str, Any]:
    return {"status": "success", "data": data}


@router.get("/models")
async def versions(
    request: Request, name: str | None = None, kind: str | None = None
) -> dict[str, Any]:
    """Every stored version (of `name`, of `kind`), with stage, parameters and validation scores."""
    svc = platform_of(request).models
    rows = await asyncio.to_thread(svc.versions, name)
    return _ok([r for r in rows if kind is None or r["kind"] == kind])


@router.get("/models/detectors/active")
async def active_checks(request: Request) -> dict[str, Any]:
    """The anomaly checks as they run now: defaults, or their detector model's production version."""
    svc = platform_of(request).anomalies
    return _ok([a.to_dict() for a in await asyncio.to_thread(svc.active)])


@router.post("/models/train")
async def train(request: Request, body: TrainRequest) -> dict[str, Any]:
    """Train a new version now; it is promoted if validation beats production (auto_promote)."""
    svc = platform_of(request).models
    spec = svc.spec_for(
        body.name, body.kind, expr=body.expr, horizon_ms=parse_step(body.horizon, "horizon"),
        season=body.season, level=body.level, detector=body.detector,
    )  # fmt: skip
    row = await asyncio.to_thread(
        svc.train,
        body.name,
        spec,
        window_ms=parse_step(body.window, "window") if body.window else None,
        step_ms=parse_step(body.step) if body.step else None,
        at_ms=parse_time(body.time, "time") if body.time else None,
        auto_promote=body.auto_promote,
    )
    return _ok(row)


@router.post("/models/{name}/promote")
async def promote(
    request: Request,
    name: str,
    version: int = Query(
        ..., ge=1, le=2_147_483_647, description="Version number (32-bit column)."
    ),
) -> dict[str, Any]:
    """Put `version` of `name` in production (the version there is archived)."""
    svc = platform_of(request).models
    return _ok(await asyncio.to_thread(svc.promote, name, version))


@router.post("/models/{name}/rollback")
async def rollback(request: Request, name: str) -> dict[str, Any]:
    """Restore the version that was in production before the current one."""
    svc = platform_of(request).models
    return _ok(await asyncio.to_thread(svc.rollback, name))
