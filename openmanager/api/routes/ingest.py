"""Ingest endpoints: the remote-write receiver `POST /api/v1/write` and `GET /api/v1/targets`."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse

from openmanager.api.deps import platform_of
from openmanager.api.routes.status import ok
from openmanager.errors import InvalidInput
from openmanager.services.ingest import RemoteWriteReceiver

router = APIRouter(prefix="/api/v1")


def _receiver(request: Request) -> RemoteWriteReceiver:
    receiver = getattr(request.app.state, "remote_write", None)
    if receiver is None:
        receiver = RemoteWriteReceiver(platform_of(request).storage)
        request.app.state.remote_write = receiver
    return receiver


@router.post("/write", status_code=204)
async def remote_write(request: Request) -> Response:
    """Prometheus remote-write 1.0; 204 once the batch is in the WAL, 400 (text) otherwise."""
    body = await request.body()
    try:
        await asyncio.to_thread(_receiver(request).receive, body)
    except InvalidInput as exc:  # Prometheus answers with http.Error: plain text
        return PlainTextResponse(exc.message + "\n", status_code=400)
    return Response(status_code=204)


@router.get("/targets")
async def targets(request: Request) -> dict[str, Any]:
    """Scrape targets and their health, in Prometheus's shape; `state` filters like it does."""
    manager = getattr(platform_of(request), "scrape", None)
    data: dict[str, Any] = (
        manager.targets() if manager is not None else {"activeTargets": [], "droppedTargets": []}
    )
    state = request.query_params.get("state", "any")
    if state == "active":
        data["droppedTargets"] = []
    elif state == "dropped":
        data["activeTargets"] = []
    return ok(data)
