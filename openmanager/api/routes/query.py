"""Prometheus API: /api/v1/query, /query_range, /format_query, /parse_query, /query_exemplars.

All accept GET and POST forms. Evaluation runs in a worker thread so a long query does not
stall the event loop; parameter errors are worded as Prometheus words them.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from openmanager.api.deps import platform_of
from openmanager.api.params import parse_query, parse_step, parse_time, parse_timeout
from openmanager.api.promjson import (
    format_ts,
    format_value,
    matrix_json,
    matrix_text,
    vector_json,
)
from openmanager.api.routes.series import form_params, one
from openmanager.api.routes.status import ok
from openmanager.errors import InvalidInput
from openmanager.promql.astjson import parse_query_json
from openmanager.promql.engine import MAX_POINTS, QueryResult
from openmanager.promql.parse import format_expr
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


def result_response(result: QueryResult) -> Response:
    """The whole success response; a matrix is serialised directly (it can be 100k+ points)."""
    if result.type is not ValueType.MATRIX:
        return JSONResponse(ok(result_json(result)))
    body = matrix_text((s.labels, s.timestamps, s.values) for s in result.series)
    return Response(
        '{"status":"success","data":{"resultType":"matrix","result":' + body + "}}",
        media_type="application/json",
    )


def check_range(start: int, end: int, step: int) -> None:
    """Prometheus's checks of a range query's grid, in its words, before any evaluation."""
    if end < start:
        raise InvalidInput('invalid parameter "end": end timestamp must not be before start time')
    if step <= 0:
        raise InvalidInput(
            'invalid parameter "step": zero or negative query resolution step widths are not '
            "accepted. Try a positive integer"
        )
    if (end - start) // step + 1 > MAX_POINTS:
        raise InvalidInput(
            "exceeded maximum resolution of 11,000 points per timeseries. "
            "Try decreasing the query resolution (?step=XX)"
        )


@router.api_route("/query", methods=["GET", "POST"])
async def query(request: Request) -> Response:
    """Evaluate an instant query at `time` (default: now, to the second).

    Answers for an expression and time are cached until the stored data changes; "now" is
    taken to the whole second so that clients polling the same expression share answers.
    """
    params = await form_params(request)
    expr = one(params, "query") or ""
    parse_query(expr)
    text_time = one(params, "time")
    at = parse_time(text_time, "time") if text_time else int(time.time()) * 1000
    timeout = parse_timeout(one(params, "timeout"))
    queries = platform_of(request).queries
    result = queries.peek(expr, at)  # a hit is answered here, without a worker thread
    if result is not None:
        pass
    elif timeout is None:
        result = await queries.shared_instant(expr, at)
    else:  # the service's timeout, shortened for this request
        result = await asyncio.to_thread(queries.engine.instant_query, expr, at, timeout_s=timeout)
    return result_response(result)


@router.api_route("/query_range", methods=["GET", "POST"])
async def query_range(request: Request) -> Response:
    """Evaluate a range query over [start, end] every `step`."""
    params = await form_params(request)
    expr = one(params, "query") or ""
    parse_query(expr)
    start = parse_time(required(params, "start"), "start")
    end = parse_time(required(params, "end"), "end")
    step = parse_step(required(params, "step"))
    check_range(start, end, step)
    timeout = parse_timeout(one(params, "timeout"))
    queries = platform_of(request).queries
    if timeout is None:
        result = await asyncio.to_thread(queries.range, expr, start, end, step)
    else:
        result = await asyncio.to_thread(
            queries.engine.range_query, expr, start, end, step, timeout_s=timeout
        )
    return result_response(result)


@router.api_route("/format_query", methods=["GET", "POST"])
async def format_query(request: Request) -> dict[str, Any]:
    """The query in Prometheus's canonical formatting."""
    params = await form_params(request)
    parse_query(one(params, "query"))
    return ok(format_expr(one(params, "query") or ""))


@router.api_route("/parse_query", methods=["GET", "POST"])
async def parse_query_route(request: Request) -> dict[str, Any]:
    """The query's syntax tree as JSON, shaped as Prometheus 3's `parse_query` returns it."""
    params = await form_params(request)
    parse_query(one(params, "query"))
    return ok(parse_query_json(one(params, "query") or ""))


@router.api_route("/query_exemplars", methods=["GET", "POST"])
async def query_exemplars(request: Request) -> dict[str, Any]:
    """Exemplars are not stored; an empty, valid answer keeps Grafana's panels working."""
    params = await form_params(request)
    parse_query(one(params, "query"))
    return ok([])
