"""Rules endpoints: `/api/v1/rules`, `/api/v1/alerts` (Prometheus's shapes) and `POST /-/reload`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse

from openmanager.api.deps import platform_of
from openmanager.errors import InvalidInput
from openmanager.rules.apijson import alerts_json, groups_json
from openmanager.services.rules import RulesService

router = APIRouter()


def _service(request: Request) -> RulesService | None:
    svc = getattr(platform_of(request), "rules", None)
    return svc if isinstance(svc, RulesService) else None


@router.get("/api/v1/rules")
def rules(
    request: Request,
    type: Annotated[str | None, Query()] = None,  # noqa: A002 - Prometheus's parameter name
    rule_name: Annotated[list[str] | None, Query(alias="rule_name[]")] = None,
    rule_group: Annotated[list[str] | None, Query(alias="rule_group[]")] = None,
    file: Annotated[list[str] | None, Query(alias="file[]")] = None,
    exclude_alerts: bool = False,
) -> dict[str, Any]:
    """Every rule group with its rules, health and (for alerting rules) active alerts."""
    if type not in (None, "", "alert", "record"):
        raise InvalidInput(f'unsupported type "{type}"')
    svc = _service(request)
    groups = svc.manager.groups if svc is not None else []
    data = groups_json(
        groups,
        kind=type or None,
        rule_names=set(rule_name or []),
        group_names=set(rule_group or []),
        files=set(file or []),
        with_alerts=not exclude_alerts,
    )
    return {"status": "success", "data": data}


@router.get("/api/v1/alerts")
def alerts(request: Request) -> dict[str, Any]:
    """Every pending and firing alert."""
    svc = _service(request)
    return {"status": "success", "data": alerts_json(svc.manager.groups if svc else [])}


@router.post("/-/reload", response_class=PlainTextResponse)
def reload(request: Request) -> PlainTextResponse:
    """Re-read the rule files; a broken file keeps the running rules and the reply says why."""
    svc = _service(request)
    if svc is None:
        return PlainTextResponse("")
    outcome = svc.reload()
    if outcome.error is not None:
        return PlainTextResponse(f"failed to reload config: {outcome.error}\n", status_code=500)
    return PlainTextResponse("")
