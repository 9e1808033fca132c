"""The metadata-store backends every meta test runs against: SQLite in a temp dir and the real
PostgreSQL (127.0.0.1:5432, database `test`) in a schema of its own, dropped afterwards.

PostgreSQL absent skips locally and fails under CI (tests.helpers.require).
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from openmanager.meta.db import MetaDB, open_meta
from tests.helpers import free_port, require

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
    with _pg_schema() as backend:
        yield backend


@pytest.fixture
def meta(meta_backend: MetaBackend, tmp_path: Path) -> Iterator[MetaDB]:
    """A migrated metadata store on each backend in turn."""
    db = open_meta(meta_backend.url, tmp_path, pg_schema=meta_backend.pg_schema)
    yield db
    db.close()


@pytest.fixture
def shared_postgres() -> Iterator[MetaBackend]:
    """The shared PostgreSQL only, in a fresh schema (dropped after the test)."""
    with _pg_schema() as backend:
        yield backend


@contextmanager
def _pg_schema() -> Iterator[MetaBackend]:
    error = _pg_reachable()
    require(error is None, f"PostgreSQL at {PG_URL} is not reachable: {error}")
    schema = f"om_test_{uuid.uuid4().hex[:12]}"
    try:
        yield MetaBackend("postgresql", PG_URL, schema)
    finally:
        _drop_schema(schema)


class PrivatePostgres:
    """A PostgreSQL server of our own (initdb in a temp dir, a free port) to stop and restart.

    The shared server on 5432 is never touched. As root the server runs as `postgres`
    (`runuser`), as .ci/run does. Missing binaries skip locally and fail under CI.
    """

    def __init__(self) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version)
        found = [b for b in bins if os.path.exists(f"{b}/initdb")]
        require(bool(found), "PostgreSQL server binaries (/usr/lib/postgresql/*/bin) are missing")
        self.bin = found[-1]
        self.as_root = os.geteuid() == 0
        self.dir = Path(tempfile.mkdtemp(prefix="om-pg-"))
        if self.as_root:
            shutil.chown(self.dir, "postgres")
        self.data = self.dir / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-N")

    def _run(self, tool: str, *args: str) -> None:
        cmd = [f"{self.bin}/{tool}", *args]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        """Start and wait until it accepts connections (pg_ctl -w)."""
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "log"), "-w", "-o", opts,
                  "start")  # fmt: skip

    def stop(self) -> None:
        """Fast shutdown (disconnects every client), waiting until it is down."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass  # not running
        shutil.rmtree(self.dir, ignore_errors=True)


def _version(path: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", path))


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A running private PostgreSQL, removed at the end of the test."""
    server = PrivatePostgres()
    try:
        server.start()
        yield server
    finally:
        server.remove()
