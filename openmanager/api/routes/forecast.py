"""Forecast API: /api/v1/forecast (path + interval, optional exhaustion) and /forecast/decompose."""

from __future__ import annotations

import asyncio
from typing import Any, TypedDict

from fastapi import APIRouter, Request

from openmanager.api.deps import platform_of
from openmanager.api.params import parse_step, parse_time
from openmanager.errors import InvalidInput
from openmanager.services.forecast import ForecastService

router = APIRouter(prefix="/api/v1")


def _service(request: Request) -> ForecastService:
    platform = platform_of(request)
    return ForecastService(platform.queries, clock=platform.clock)


def _float(text: str | None, name: str) -> float | None:
    if text is None or text == "":
        return None
    try:
        return float(text)
    except ValueError as exc:
        raise InvalidInput(f'invalid parameter "{name}": {text!r} is not a number') from exc


class _Window(TypedDict):
    history_ms: int | None
    step_ms: int | None
    at_ms: int | None


def _window(history: str | None, step: str | None, time: str | None) -> _Window:
    """The history, step and evaluation-time parameters both endpoints share, parsed (None: unset)."""
    return {
        "history_ms": parse_step(history, "history") if history else None,
        "step_ms": parse_step(step) if step else None,
        "at_ms": parse_time(time, "time") if time else None,
    }


@router.get("/forecast")
async def forecast(
    request: Request,
    query: str,
    horizon: str = "24h",
    history: str | None = None,
    step: str | None = None,
    level: str = "0.8",
    season: str = "auto",
    threshold: str | None = None,
    direction: str = "auto",
    time: str | None = None,
) -> dict[str, Any]:
    """Forecast every series of `query` `horizon` ahead; with `threshold`, time to exhaustion."""
    if direction not in ("auto", "up", "down"):
        raise InvalidInput('invalid parameter "direction": use auto, up or down')
    svc = _service(request)
    horizon_ms = parse_step(horizon, "horizon")
    lvl = _float(level, "level")
    results = await asyncio.to_thread(
        svc.forecast,
        query,
        horizon_ms,
        **_window(history, step, time),
        level=0.8 if lvl is None else lvl,
        season=season,
        threshold=_float(threshold, "threshold"),
        direction=direction,
    )
    return {
        "status": "success",
        "data": {
            "horizon_seconds": horizon_ms / 1000,
            "result": [r.to_dict() for r in results],
        },
    }


@router.get("/forecast/decompose")
async def decompose(
    request: Request,
    query: str,
    season: str = "daily",
    history: str | None = None,
    step: str | None = None,
    time: str | None = None,
) -> dict[str, Any]:
    """Trend, seasonal and residual parts of every series of `query` (for charts)."""
    svc = _service(request)
    parts = await asyncio.to_thread(
        svc.decompose,
        query,
        season,
        **_window(history, step, time),
    )
    out: list[dict[str, Any]] = []
    for labels, d in parts:
        if isinstance(d, str):
            out.append({"metric": dict(labels), "error": d})
            continue
        out.append(
            {
                "metric": dict(labels),
                "period_seconds": d.period_ms / 1000,
                "timestamps": (d.timestamps / 1000).tolist(),
                "observed": d.observed.tolist(),
                "trend": d.trend.tolist(),
                "seasonal": d.seasonal.tolist(),
                "residual": d.residual.tolist(),
            }
        )
    return {"status": "success", "data": {"result": out}}
