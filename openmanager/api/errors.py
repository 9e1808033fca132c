"""Error responses: Prometheus's envelope under /api/v1, a plain JSON error elsewhere."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from openmanager.errors import OpenManagerError

PROMETHEUS_PREFIX = "/api/v1/"


def error_response(request: Request, status: int, error_type: str, message: str) -> JSONResponse:
    """The error body for this path: Prometheus-style for its API, plain for ours."""
    if request.url.path.startswith(PROMETHEUS_PREFIX):
        body: dict[str, object] = {"status": "error", "errorType": error_type, "error": message}
    else:
        body = {"error": {"type": error_type, "message": message}}
    return JSONResponse(body, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    """Map our exception hierarchy and request validation errors to HTTP responses."""

    async def on_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, OpenManagerError)  # registered for this type only
        return error_response(request, exc.status_code, exc.error_type, exc.message)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        parts = []
        for err in exc.errors():
            where = ".".join(
                str(p) for p in err.get("loc", ()) if p not in ("query", "body", "path")
            )
            parts.append(f"{where}: {err.get('msg', 'invalid')}")
        return error_response(
            request,
            400 if request.url.path.startswith(PROMETHEUS_PREFIX) else 422,
            "bad_data",
            "; ".join(parts),
        )

    app.add_exception_handler(OpenManagerError, on_error)
    app.add_exception_handler(RequestValidationError, on_validation)
