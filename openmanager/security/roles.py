"""Roles and which one each endpoint needs: reads = viewer, writes = operator, admin changes = admin."""

from __future__ import annotations

from typing import Literal

Role = Literal["viewer", "operator", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "operator", "admin")
_RANK: dict[str, int] = {role: i for i, role in enumerate(ROLES)}

PUBLIC_PATHS = frozenset(
    {
        "/-/healthy",
        "/-/ready",
        "/",
        "/favicon.ico",
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
        "/openapi.json",
    }
)
"""Reachable without a key: load-balancer probes, the dashboard shell and the API description."""

PUBLIC_PREFIXES = ("/static/",)

ADMIN_PREFIXES = ("/api/v1/admin/", "/api/v1/config", "/-/reload")
"""Configuration, API keys and users: admin for every method."""

ADMIN_WRITE_PREFIXES = ("/api/v1/models",)
"""Model registry: reading is a viewer's, training/promotion/rollback an admin's."""

READ_POSTS = frozenset(
    {
        "/api/v1/query",
        "/api/v1/query_range",
        "/api/v1/format_query",
        "/api/v1/parse_query",
        "/api/v1/query_exemplars",
        "/api/v1/series",
        "/api/v1/labels",
    }
)
"""POST endpoints that only read (Prometheus allows POST for long queries)."""

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def check_role(value: str) -> Role:
    """The role named `value`, or ValueError listing the allowed ones."""
    for role in ROLES:
        if value == role:
            return role
    raise ValueError(f"unknown role {value!r} (allowed: {', '.join(ROLES)})")


def allows(have: str, need: Role) -> bool:
    """Whether a key with role `have` may do what needs `need`."""
    return _RANK.get(have, -1) >= _RANK[need]


def required_role(method: str, path: str) -> Role | None:
    """The least role for this request; None = public."""
    if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
        return None
    if path.startswith(ADMIN_PREFIXES):
        return "admin"
    if method in _SAFE_METHODS or path in READ_POSTS:
        return "viewer"
    if path.startswith(ADMIN_WRITE_PREFIXES):
        return "admin"
    return "operator"
