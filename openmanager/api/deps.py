"""Request-scoped access to the running platform (set on app.state by the factory)."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from fastapi import Request

if TYPE_CHECKING:
    from openmanager.services.platform import Platform


def platform_of(request: Request) -> Platform:
    """The Platform this app serves."""
    return cast("Platform", request.app.state.platform)
