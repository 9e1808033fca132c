"""The metadata-store backends every meta test runs against: SQLite in a temp dir and the real
PostgreSQL (127.0.0.1:5432, database `test`) in a schema of its own, dropped afterwards.

PostgreSQL absent skips locally and fails under CI (tests.helpers.require).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import require

PG_URL = os.environ.get("OPENMANAGER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


@dataclass(frozen=True)
class MetaBackend:
    """Where a test's metadata store lives, as `meta.*` settings."""

    kind: str
    url: str
    pg_schema: str

    def settings(self) -> dict[str, Any]:
        return {"url": self.url, "pg_schema": self.pg_schema}


def _pg_reachable() -> str | None:
    import psycopg

    try:
        with psycopg.connect(PG_URL, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]


def _drop_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def meta_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetaBackend]:
    """Each backend in turn; PostgreSQL gets a fresh schema, dropped after the test."""
    if request.param == "sqlite":
        yield MetaBackend("sqlite", f"sqlite:///{tmp_path / 'meta.db'}", "")
        return
    error = _pg_reachable()
    require(error is None, f"PostgreSQL at {PG_URL} is not reachable: {error}")
    schema = f"om_test_{uuid.uuid4().hex[:12]}"
    try:
        yield MetaBackend("postgresql", PG_URL, schema)
    finally:
        _drop_schema(schema)
