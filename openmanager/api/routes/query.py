"""Prometheus API: /api/v1/query, /query_range, /format_query, /query_exemplars (GET and POST)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request

from openmanager.api.deps import platform_of
from openmanager.api.params import parse_step, parse_time
from openmanager.api.promjson import format_ts, format_value, matrix_json, vector_json
from openmanager.api.routes.series import form_params, one
from openmanager.api.routes.status import ok
from openmanager.errors import InvalidInput
from openmanager.promql.engine import QueryResult
from openmanager.promql.parse import parse_expr
from openmanager.promql.types import ValueType

router = APIRouter(prefix="/api/v1")


def required(params: dict[str, list[str]], name: str) -> str:
    """A parameter the endpoint cannot do without."""
    value = one(params, name)
    if value is None or value == "":
        raise InvalidInput(f'invalid parameter "{name}": parameter is missing')
    return value


def result_json(result: QueryResult) -> dict[str, Any]:
    """The `data` object of a query response, shaped as Prometheus writes it."""
    kind = result.type
    if kind is ValueType.STRING:
        return {"resultType": "string", "result": [format_ts(result.time_ms), result.string or ""]}
    if kind is ValueType.SCALAR:
        point = result.series[0]
        return {
            "resultType": "scalar",
            "result": [format_ts(int(point.timestamps[0])), format_value(float(point.values[0]))],
        }
    if kind is ValueType.VECTOR:
        items = ((s.labels, int(s.timestamps[0]), float(s.values[0])) for s in result.series)
        return {"resultType": "vector", "result": vector_json(items)}
    return {
        "resultType": "matrix",
        "result": matrix_json((s.labels, s.timestamps, s.values) for s in result.series),
    }


@router.api_route("/query", methods=["GET", "POST"])
async def query(request: Request) -> dict[str, Any]:
    """Evaluate an instant query at `time` (default: now)."""
    params = await form_params(request)
    expr = required(params, "query")
    text_time = one(params, "time")
    at = parse_time(text_time, "time") if text_time else int(time.time() * 1000)
    result = platform_of(request).queries.instant(expr, at)
    return ok(result_json(result))


@router.api_route("/query_range", methods=["GET", "POST"])
async def query_range(request: Request) -> dict[str, Any]:
    """Evaluate a range query over [start, end] every `step`."""
    params = await form_params(request)
    expr = required(params, "query")
    start = parse_time(required(params, "start"), "start")
    end = parse_time(required(params, "end"), "end")
    step = parse_step(required(params, "step"))
    result = platform_of(request).queries.range(expr, start, end, step)
    return ok(result_json(result))


@router.api_route("/format_query", methods=["GET", "POST"])
async def format_query(request: Request) -> dict[str, Any]:
    """Check and echo a query (the parser's canonical form is Prometheus's job; we validate)."""
    params = await form_params(request)
    expr = required(params, "query")
    parse_expr(expr)
    return ok(expr)


@router.api_route("/query_exemplars", methods=["GET", "POST"])
async def query_exemplars(request: Request) -> dict[str, Any]:
    """Exemplars are not stored; an empty, valid answer keeps Grafana's panels working."""
    params = await form_params(request)
    parse_expr(required(params, "query"))
    return ok([])
