"""Prometheus API: /api/v1/series, /labels, /label/<name>/values, /metadata (GET and POST)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from openmanager.api.deps import platform_of
from openmanager.api.params import MAX_TIME_MS, MIN_TIME_MS, optional_time, parse_selector
from openmanager.api.routes.status import ok
from openmanager.errors import InvalidInput
from openmanager.services import series_meta
from openmanager.tsdb.matchers import Matcher

router = APIRouter(prefix="/api/v1")


async def form_params(request: Request) -> dict[str, list[str]]:
    """Query-string and form-body parameters merged (Prometheus accepts both)."""
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    if request.method == "POST":
        form = await request.form()
        for key, item in form.multi_items():
            if isinstance(item, str):
                params.setdefault(key, []).append(item)
    return params


def one(params: dict[str, list[str]], name: str) -> str | None:
    """The last value of a single-valued parameter, or None."""
    values = params.get(name)
    return values[-1] if values else None


def range_of(params: dict[str, list[str]]) -> tuple[int, int]:
    """start/end in ms with Prometheus's open defaults."""
    return (
        optional_time(one(params, "start"), "start", MIN_TIME_MS),
        optional_time(one(params, "end"), "end", MAX_TIME_MS),
    )


def selectors(params: dict[str, list[str]]) -> list[list[Matcher]]:
    """All `match[]` selectors."""
    return [parse_selector(s) for s in params.get("match[]", [])]


def limit_of(params: dict[str, list[str]]) -> int:
    """The optional `limit` parameter (0 = none)."""
    text = one(params, "limit")
    if text is None or text == "":
        return 0
    try:
        value = int(text)
    except ValueError as exc:
        raise InvalidInput(
            f'invalid parameter "limit": cannot parse "{text}" to an integer'
        ) from exc
    return max(value, 0)


@router.api_route("/series", methods=["GET", "POST"])
async def series(request: Request) -> dict[str, Any]:
    """Label sets of the series matching any `match[]` selector."""
    params = await form_params(request)
    sel = selectors(params)
    if not sel:
        raise InvalidInput("no match[] parameter provided")
    start, end = range_of(params)
    found = series_meta.find_series(platform_of(request).storage, sel, start, end, limit_of(params))
    return ok([dict(labels) for labels in found])


@router.api_route("/labels", methods=["GET", "POST"])
async def labels(request: Request) -> dict[str, Any]:
    """Label names."""
    params = await form_params(request)
    start, end = range_of(params)
    storage = platform_of(request).storage
    return ok(series_meta.label_names(storage, selectors(params), start, end, limit_of(params)))


@router.get("/label/{name}/values")
async def label_values(name: str, request: Request) -> dict[str, Any]:
    """Values of one label."""
    params = await form_params(request)
    start, end = range_of(params)
    storage = platform_of(request).storage
    return ok(
        series_meta.label_values(storage, name, selectors(params), start, end, limit_of(params))
    )


@router.get("/metadata")
async def metadata(request: Request) -> dict[str, Any]:
    """Type, help and unit per metric family."""
    params = await form_params(request)
    storage = platform_of(request).storage
    return ok(series_meta.metric_metadata(storage, one(params, "metric"), limit_of(params)))
