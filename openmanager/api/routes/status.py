"""Status endpoints: build and runtime info (Prometheus-compatible), jobs, storage statistics."""

from __future__ import annotations

import os
import platform as pyplatform
import socket
import threading
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import psutil
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


def _rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


@router.get("/runtimeinfo")
def runtimeinfo(request: Request) -> dict[str, Any]:
    """Process facts under Prometheus's field names (Go-only fields carry the nearest analogue)."""
    started = psutil.Process().create_time()
    settings = platform_of(request).settings
    retention = settings.storage.retention.raw if settings.storage.backend == "embedded" else ""
    return ok(
        {
            "startTime": _rfc3339(started),
            "CWD": os.getcwd(),
            "hostname": socket.gethostname(),
            "serverTime": _rfc3339(datetime.now(UTC).timestamp()),
            "reloadConfigSuccess": True,
            "lastConfigTime": _rfc3339(started),
            "corruptionCount": 0,
            "goroutineCount": threading.active_count(),
            "GOMAXPROCS": os.cpu_count() or 1,
            "GOMEMLIMIT": 0,
            "GOGC": "",
            "GODEBUG": "",
            "storageRetention": retention,
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
