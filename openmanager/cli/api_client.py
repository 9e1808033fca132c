"""Call a running OpenManager's HTTP API from the CLI and unwrap its Prometheus-style answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from openmanager.errors import InvalidInput, Unavailable


def api_data(url: str, send: Callable[[str], httpx.Response]) -> dict[str, Any]:
    """`data` of the answer `send(base URL)` gets; Unavailable if unreachable, InvalidInput on error."""
    try:
        resp = send(url.rstrip("/"))
    except httpx.HTTPError as exc:
        raise Unavailable(f"cannot reach {url}: {exc}") from exc
    body = resp.json()
    if body.get("status") != "success":
        raise InvalidInput(f"{body.get('errorType', 'error')}: {body.get('error', resp.text)}")
    data: dict[str, Any] = body["data"]
    return data
