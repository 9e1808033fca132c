"""Notifications over HTTP: silences, alert history, receiver status, and Alertmanager's API v2.

The `/api/v2/...` routes take and return Alertmanager's own JSON, so `amtool
--alertmanager.url=...` and a Prometheus `alertmanagers` entry work against OpenManager.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Body, Query, Request

from openmanager import __version__
from openmanager.api.deps import platform_of
from openmanager.api.params import parse_time
from openmanager.errors import InvalidInput
from openmanager.notify.matchers import MatcherError, matches_all, parse_matchers
from openmanager.notify.model import iso
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


@router.get("/api/v1/silences")
def list_silences(request: Request) -> dict[str, Any]:
    """Every silence with its state (pending, active, expired)."""
    service = notify_of(request)
    now = service.clock()
    return _ok([s.to_json(now) for s in service.silences()])


def _create_silence(service: NotifyService, body: dict[str, Any]) -> str:
    """A silence from a `postableSilence`; a given id replaces (expires) that silence."""
    if body.get("id"):
        old = service.silence(str(body["id"]))
        if old.state(service.clock()) != "expired":
            service.expire_silence(old.id)
    if "endsAt" not in body:
        raise InvalidInput("endsAt is required")
    starts = _seconds(str(body["startsAt"]), "startsAt") if body.get("startsAt") else None
    if starts is not None and starts < service.clock():
        starts = None  # Alertmanager moves a start in the past to now
    s = service.add_silence(
        matchers_from_json(body.get("matchers")),
        starts_at=starts,
        ends_at=float(_seconds(str(body["endsAt"]), "endsAt") or 0),
        created_by=str(body.get("createdBy", "")),
        comment=str(body.get("comment", "")),
    )
    return s.id


@router.post("/api/v1/silences")
def add_silence(request: Request, body: dict[str, Any] = Body(...)) -> dict[str, Any]:
    """Create a silence from Alertmanager's API v2 `postableSilence` JSON; returns its id."""
    return _ok({"silenceID": _create_silence(notify_of(request), body)})


@router.get("/api/v1/silences/{silence_id}")
def get_silence(silence_id: str, request: Request) -> dict[str, Any]:
    """One silence."""
    service = notify_of(request)
    return _ok(service.silence(silence_id).to_json(service.clock()))


@router.delete("/api/v1/silences/{silence_id}")
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
    alerts, errors = [], []
    for i, obj in enumerate(body):
        try:
            alert = PostableAlert.from_json(obj)
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            errors.append(f"alert {i}: {exc}")
            continue
        if not alert.labels:
            errors.append(f"alert {i}: at least one label pair required")
        elif obj.get("startsAt") and obj.get("endsAt") and alert.ends_at < alert.starts_at:
            errors.append(f"alert {i}: start time must be before end time")
        else:
            alerts.append(alert)
    service.send(alerts)  # the valid ones are taken, as Alertmanager does
    if errors:
        raise InvalidInput("; ".join(errors))
    return {}


# Alertmanager API v2 (what amtool and Prometheus speak)


@router.get("/api/v2/silences")
def am_silences(request: Request) -> list[dict[str, Any]]:
    """Alertmanager's `gettableSilences`."""
    service = notify_of(request)
    now = service.clock()
    return [s.to_json(now) for s in service.silences()]


@router.post("/api/v2/silences")
def am_add_silence(request: Request, body: dict[str, Any] = Body(...)) -> dict[str, Any]:
    """Alertmanager's silence creation: `{"silenceID": ...}`."""
    return {"silenceID": _create_silence(notify_of(request), body)}


@router.get("/api/v2/silence/{silence_id}")
def am_silence(silence_id: str, request: Request) -> dict[str, Any]:
    """One `gettableSilence`."""
    service = notify_of(request)
    return service.silence(silence_id).to_json(service.clock())


@router.delete("/api/v2/silence/{silence_id}")
def am_expire_silence(silence_id: str, request: Request) -> dict[str, Any]:
    """Expire a silence (Alertmanager answers an empty body)."""
    notify_of(request).expire_silence(silence_id)
    return {}


@router.get("/api/v2/alerts")
def am_alerts(
    request: Request,
    active: bool = True,
    silenced: bool = True,
    inhibited: bool = True,
    filter: list[str] = Query([], description="Matchers every listed alert satisfies."),  # noqa: A002
    receiver: str | None = Query(None, description="Regex on receiver names."),
) -> list[dict[str, Any]]:
    """Alertmanager's `gettableAlerts`, with its filters (as `amtool alert query` sends them)."""
    try:
        matchers = [m for text in filter for m in parse_matchers(text)]
        receiver_re = re.compile(f"^(?:{receiver})$") if receiver else None
    except (MatcherError, re.error) as exc:
        raise InvalidInput(f"bad filter: {exc}") from None
    out = []
    for a in notify_of(request).gettable_alerts():
        st = a["status"]
        if (st["silencedBy"] and not silenced) or (st["inhibitedBy"] and not inhibited):
            continue
        if st["state"] == "active" and not active:
            continue
        if not matches_all(matchers, a["labels"]):
            continue
        if receiver_re and not any(receiver_re.match(r["name"]) for r in a["receivers"]):
            continue
        out.append(a)
    return out


@router.get("/api/v2/status")
def am_status(request: Request) -> dict[str, Any]:
    """Alertmanager's status (`amtool config show`): the routing file's text, no cluster."""
    service = notify_of(request)
    return {
        "cluster": {"status": "disabled", "peers": []},
        "config": {"original": service.config_text()},
        "uptime": iso(service.started_at),
        "versionInfo": {
            "version": __version__,
            "branch": "",
            "buildDate": "",
            "buildUser": "",
            "goVersion": "",
            "revision": "",
        },
    }
