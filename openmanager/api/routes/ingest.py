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


@router.post("/write", status_code=204)
async def remote_write(request: Request) -> Response:
    """Prometheus remote-write 1.0; 204 once the batch is in the WAL, 400 (text) otherwise.

    Served by `fastpath.RemoteWriteFastPath` before FastAPI's stack; this route documents it.
    """
    status, text = await receive_write(platform_of(request).remote_write, await request.body())
    if status != 204:  # Prometheus answers with http.Error: plain text
        return PlainTextResponse(text, status_code=status)
    return Response(status_code=204)


async def receive_write(receiver: RemoteWriteReceiver, body: bytes) -> tuple[int, str]:
    """Store one remote-write body off the event loop: (204, "") or (400, the reason)."""
    try:
        await asyncio.to_thread(receiver.receive, body)
    except InvalidInput as exc:
        return 400, exc.message + "\n"
    return 204, ""


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
