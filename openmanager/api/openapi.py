"""The OpenAPI document: one operationId per method, and the API-key schemes when auth is on."""

from __future__ import annotations

import re
import warnings
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

_METHOD_SUFFIX = re.compile(r"_(get|post|put|patch|delete|head|options)$")


def install_openapi(app: FastAPI, *, auth: bool) -> None:
    """Replace `app.openapi` with a generator that fixes routes serving several methods."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        with warnings.catch_warnings():
            # GET+POST routes share FastAPI's generated id; made unique per method below.
            warnings.filterwarnings("ignore", message="Duplicate Operation ID")
            spec = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
        for ops in spec.get("paths", {}).values():
            for method, op in ops.items():
                if isinstance(op, dict) and "operationId" in op:
                    op["operationId"] = _METHOD_SUFFIX.sub("", op["operationId"]) + "_" + method
        if auth:
            components = spec.setdefault("components", {})
            components["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer", "description": "An API key."},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            }
            spec["security"] = [{"bearer": []}, {"apiKey": []}]
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
