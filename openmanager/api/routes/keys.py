"""API keys over HTTP (admin role): list, create (the secret is in this one response), revoke."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from openmanager.api.deps import platform_of
from openmanager.security.keys import KeyInfo
from openmanager.security.roles import Role
from openmanager.units import parse_duration

router = APIRouter(prefix="/api/v1/admin/keys", tags=["admin"])


class NewKey(BaseModel):
    """Body of `POST /api/v1/admin/keys`."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1, max_length=200, description="What the key is for.")
    role: Role = Field(..., description="viewer, operator or admin.")
    user: str = Field("", max_length=200, description="Owning user (its role caps the key's).")
    expires_in: str | None = Field(
        None, pattern=r"^\d+[smhdwy]$", description="Lifetime, e.g. `90d` (none = no expiry)."
    )


def _json(info: KeyInfo, now: float) -> dict[str, Any]:
    return {
        "id": info.id,
        "name": info.name,
        "prefix": info.prefix,
        "role": info.role,
        "user": info.user,
        "createdAt": info.created_at,
        "expiresAt": info.expires_at,
        "state": info.state(now),
    }


@router.get("")
def list_keys(request: Request) -> dict[str, Any]:
    """Every key (never its secret)."""
    platform = platform_of(request)
    now = platform.clock()
    return {"status": "success", "data": [_json(k, now) for k in platform.keys.list()]}


@router.post("")
def create_key(request: Request, body: NewKey) -> dict[str, Any]:
    """A new key; `data.key` is the secret, shown only here."""
    platform = platform_of(request)
    ttl = parse_duration(body.expires_in) / 1000 if body.expires_in else None
    secret, info = platform.keys.create(body.name, body.role, user=body.user, ttl_s=ttl)
    return {"status": "success", "data": {**_json(info, platform.clock()), "key": secret}}


@router.delete("/{key_id}")
def revoke_key(request: Request, key_id: str) -> dict[str, Any]:
    """Revoke a key by id or prefix (effective within security.key_cache_ttl)."""
    platform = platform_of(request)
    info = platform.keys.revoke(key_id)
    return {"status": "success", "data": _json(info, platform.clock())}
