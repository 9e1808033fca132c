"""The app factory fixture: a real Platform over a temp data dir, driven in-process."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from openmanager.api.app import create_app
from openmanager.config import load_settings
from openmanager.services.platform import Platform

MakeClient = Callable[..., TestClient]


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[MakeClient]:
    """Build app clients over fresh data dirs; settings overrides as nested dicts."""
    clients: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        base: dict[str, Any] = {
            "profile": "test",
            "storage": {"path": str(tmp_path / f"data{len(clients)}")},
            "simulator": {"backfill": "10m"},
        }
        for key, value in overrides.items():
            base[key] = {**base.get(key, {}), **value} if isinstance(value, dict) else value
        settings = load_settings(None, base)
        client = TestClient(create_app(Platform(settings)))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)
