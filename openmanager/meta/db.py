"""Opening the metadata store: engine from a URL, migrations to the newest revision at start."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql.dml import Insert

from openmanager.errors import ConfigError, Unavailable
from openmanager.meta.migrate import upgrade
from openmanager.meta.retry import MetaRetry

log = logging.getLogger(__name__)

_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def normalise_url(url: str, data_dir: Path) -> str:
    """Empty = SQLite `meta.db` in the data dir; `postgresql://` uses psycopg 3."""
    if not url:
        return f"sqlite:///{Path(data_dir) / 'meta.db'}"
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain) :]
    return url


class MetaDB:
    """One engine and session factory over the metadata tables (thread-safe)."""

    def __init__(self, url: str, *, pg_schema: str = "", pool_size: int = 5) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise ConfigError(f"meta.url: not a database URL ({exc})") from None
        self.dialect = parsed.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise ConfigError(
                f"meta.url: backend {self.dialect!r} is not supported (allowed: sqlite, postgresql)"
            )
        if pg_schema and not _SCHEMA_NAME.match(pg_schema):
            raise ConfigError(f"meta.pg_schema: {pg_schema!r} is not a plain SQL identifier")
        self.schema = pg_schema if self.dialect == "postgresql" else ""
        self.engine = self._engine(url, parsed.database or "", pool_size)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.closed = False
        self.retry = MetaRetry()
        """Retried calls and writes queued while the store is unreachable (see meta.retry)."""

    def _engine(self, url: str, database: str, pool_size: int) -> Engine:
        if self.dialect == "sqlite":
            memory = database in ("", ":memory:")
            if not memory:
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(
                url,
                connect_args={"check_same_thread": False, "timeout": 10},
                poolclass=StaticPool if memory else None,
            )

            @event.listens_for(engine, "connect")
            def _pragmas(dbapi_conn: Any, _record: Any) -> None:
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA busy_timeout=10000")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.close()

            return engine
        engine = create_engine(
            url,
            pool_size=pool_size,
            pool_pre_ping=True,
            connect_args={"connect_timeout": 10},
        )
        if self.schema:
            schema = self.schema

            @event.listens_for(engine, "connect")
            def _search_path(dbapi_conn: Any, _record: Any) -> None:
                cur = dbapi_conn.cursor()
                cur.execute(f'SET search_path TO "{schema}"')  # created by migrate()
                cur.close()
                dbapi_conn.commit()

        return engine

    def migrate(self) -> None:
        """Bring the tables to the newest revision (serialised across instances on PostgreSQL)."""
        try:
            with self.engine.begin() as conn:
                if self.dialect == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(7402211)"))
                    if self.schema:
                        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
                upgrade(conn)
        except OperationalError as exc:
            raise Unavailable(f"metadata store unreachable: {exc.orig}") from None

    def ping(self) -> None:
        """One round trip (`SELECT 1`); raises Unavailable when the store does not answer.

        When it answers, writes queued during an outage are retried at once.
        """
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except OperationalError as exc:
            raise Unavailable(f"metadata store unreachable: {exc.orig}") from None
        self.retry.kick()

    def session(self) -> Session:
        """A new ORM session (use as a context manager)."""
        self._check_open()
        return self.sessions()

    def connect(self) -> Connection:
        """A Core connection in a transaction (use as `with db.begin() as conn`)."""
        self._check_open()
        return self.engine.connect()

    def _check_open(self) -> None:
        """After `close`, a straggling job must fail rather than reconnect (and, on SQLite,
        silently create an empty database file where the store was)."""
        if self.closed:
            raise Unavailable("metadata store is closed")

    def upsert(
        self, table: Table, row: Mapping[str, Any], keys: Sequence[str], keep: Sequence[str] = ()
    ) -> Insert:
        """INSERT ... ON CONFLICT (keys) DO UPDATE for this dialect; `keep` columns stay as stored."""
        dialect_insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        stmt = dialect_insert(table).values(**row)
        update = {k: stmt.excluded[k] for k in row if k not in keys and k not in keep}
        return stmt.on_conflict_do_update(index_elements=list(keys), set_=update)

    def close(self, drain_s: float = 10.0) -> None:
        """Apply writes still queued (up to `drain_s`), then release every pooled connection."""
        self.retry.drain(drain_s)
        self.retry.close()
        self.closed = True
        self.engine.dispose()


def own_or_shared(file: Path | None, shared: MetaDB) -> tuple[MetaDB, bool]:
    """A store's own SQLite file when one is configured (opened here: owned), else `shared`."""
    if file is None:
        return shared, False
    return open_meta(f"sqlite:///{Path(file)}", Path(file).parent), True


def open_meta(url: str, data_dir: Path, *, pg_schema: str = "", pool_size: int = 5) -> MetaDB:
    """Open (and migrate) the metadata store named by settings."""
    db = MetaDB(normalise_url(url, data_dir), pg_schema=pg_schema, pool_size=pool_size)
    try:
        db.migrate()
    except BaseException:
        db.close()
        raise
    log.info("metadata store: %s", db.engine.url.render_as_string(hide_password=True))
    return db
