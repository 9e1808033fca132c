"""Status endpoints: build info (Prometheus-compatible), jobs, storage statistics."""

from __future__ import annotations

import platform as pyplatform
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request

from openmanager import __version__
from openmanager.api.deps import platform_of

router = APIRouter(prefix="/api/v1/status")


def ok(data: Any) -> dict[str, Any]:
    """Prometheus's success envelope."""
    return {"status": "success", "data": data}


@router.get("/buildinfo")
def buildinfo() -> dict[str, Any]:
    """Version information, shaped like Prometheus's (Grafana reads it)."""
    return ok(
        {
            "version": __version__,
            "revision": "",
            "branch": "",
            "buildUser": "",
            "buildDate": "",
            "goVersion": f"python{pyplatform.python_version()}",
        }
    )


@router.get("/jobs")
def jobs(request: Request) -> dict[str, Any]:
    """The scheduler's jobs: runs, failures, last duration and error."""
    return ok(platform_of(request).status())


@router.get("/storage")
def storage(request: Request) -> dict[str, Any]:
    """Series, samples and bytes stored, overall and per tier."""
    return ok(asdict(platform_of(request).storage.stats()))
