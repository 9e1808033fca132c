"""Notifications over HTTP: silences, alert history, receiver status, and an Alertmanager-style intake."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Query, Request

from openmanager.api.deps import platform_of
from openmanager.api.params import parse_time
from openmanager.errors import InvalidInput
from openmanager.notify.silences import matchers_from_json
from openmanager.rules.outbound import PostableAlert
from openmanager.services.notify import NotifyService, require

router = APIRouter()


def notify_of(request: Request) -> NotifyService:
    """The platform's notification service (404 when notifications are not set up)."""
    service = getattr(platform_of(request), "notify", None)
    return require(service if isinstance(service, NotifyService) else None)


def _ok(data: Any) -> dict[str, Any]:
    return {"status": "success", "data": data}


def _seconds(text: str | None, name: str) -> float | None:
    return None if text is None else parse_time(text, name) / 1000


@router.get("/api/v1/alerts/history")
def history(
    request: Request,
    alertname: str | None = Query(None, description="Only this alert name."),
    since: str | None = Query(None, description="Episodes active at or after (unix s / RFC 3339)."),
    until: str | None = Query(None, description="Episodes fired at or before."),
    limit: int = Query(100, ge=1, le=10_000),
) -> dict[str, Any]:
    """Alert episodes: fired and resolved times, duration, flapping, notifications per receiver."""
    service = notify_of(request)
    rows = service.history(
        alertname=alertname,
        since=_seconds(since, "since"),
        until=_seconds(until, "until"),
        limit=limit,
    )
    return _ok(rows)


@router.get("/api/v1/notify/silences")
def list_silences(request: Request) -> dict[str, Any]:
    """Every silence with its state (pending, active, expired)."""
    service = notify_of(request)
    now = service.clock()
    return _ok([s.to_json(now) for s in service.silences()])


@router.post("/api/v1/notify/silences")
def add_silence(request: Request, body: dict[str, Any] = Body(...)) -> dict[str, Any]:
    """Create a silence from Alertmanager's API v2 `postableSilence` JSON; returns its id."""
    service = notify_of(request)
    if body.get("id"):
        raise InvalidInput("updating a silence is not supported: expire it and add a new one")
    if "endsAt" not in body:
        raise InvalidInput("endsAt is required")
    starts = _seconds(str(body["startsAt"]), "startsAt") if body.get("startsAt") else None
    s = service.add_silence(
        matchers_from_json(body.get("matchers")),
        starts_at=starts,
        ends_at=float(_seconds(str(body["endsAt"]), "endsAt") or 0),
        created_by=str(body.get("createdBy", "")),
        comment=str(body.get("comment", "")),
    )
    return _ok({"silenceID": s.id})


@router.get("/api/v1/notify/silences/{silence_id}")
def get_silence(silence_id: str, request: Request) -> dict[str, Any]:
    """One silence."""
    service = notify_of(request)
    return _ok(service.silence(silence_id).to_json(service.clock()))


@router.delete("/api/v1/notify/silences/{silence_id}")
def expire_silence(silence_id: str, request: Request) -> dict[str, Any]:
    """Expire a silence now."""
    service = notify_of(request)
    return _ok(service.expire_silence(silence_id).to_json(service.clock()))


@router.get("/api/v1/notify/receivers")
def receivers(request: Request) -> dict[str, Any]:
    """Each receiver's integrations: sent, failed, retries, last error, failing."""
    return _ok(notify_of(request).receivers_status())


@router.get("/api/v1/notify/alerts")
def alerts(request: Request) -> dict[str, Any]:
    """Alerts the notifier holds, with receivers and why each is muted (if it is)."""
    return _ok(notify_of(request).alerts())


@router.get("/api/v1/notify/groups")
def groups(request: Request) -> dict[str, Any]:
    """Aggregation groups and when each flushes next."""
    return _ok(notify_of(request).groups())


@router.post("/api/v2/alerts")
def post_alerts(request: Request, body: list[dict[str, Any]] = Body(...)) -> dict[str, Any]:
    """Alertmanager's intake: a real Prometheus can send its alerts here."""
    service = notify_of(request)
    try:
        alerts = [PostableAlert.from_json(a) for a in body]
    except (KeyError, ValueError, TypeError) as exc:
        raise InvalidInput(f"invalid alert: {exc}") from None
    service.send(alerts)
    return {}
