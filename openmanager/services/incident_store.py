"""Where incidents live, behind a small interface (SQLite here; a SQLAlchemy store can follow it)."""

from __future__ import annotations

import builtins
import json
import sqlite3
import threading
from pathlib import Path
from typing import Protocol

from openmanager.analytics.rca.incident import Incident, Status, incident_from_dict
from openmanager.errors import NotFound


class IncidentStore(Protocol):
    """Persistence used by the incident service."""

    def next_id(self) -> int: ...
    def put(self, incident: Incident) -> None: ...
    def get(self, ident: int) -> Incident: ...
    def list(self, status: Status | None = None, limit: int = 100) -> builtins.list[Incident]: ...
    def unresolved(self) -> builtins.list[Incident]: ...
    def close(self) -> None: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS incidents (
  id INTEGER PRIMARY KEY, status TEXT NOT NULL, started_at REAL NOT NULL,
  last_event_at REAL NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS incidents_status ON incidents (status, started_at);
"""


class SqliteIncidentStore:
    """IncidentStore in one SQLite file (or `:memory:`): one row per incident, timeline as JSON."""

    def __init__(self, path: Path | str) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def next_id(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT COALESCE(MAX(id), 0) FROM incidents").fetchone()
        return int(row[0]) + 1

    def put(self, incident: Incident) -> None:
        doc = json.dumps(incident.to_dict())
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO incidents VALUES (?,?,?,?,?)",
                (incident.id, incident.status, incident.started_at, incident.last_event_at, doc),
            )

    def get(self, ident: int) -> Incident:
        with self._lock:
            row = self._db.execute("SELECT doc FROM incidents WHERE id=?", (ident,)).fetchone()
        if row is None:
            raise NotFound(f"no incident {ident}")
        return incident_from_dict(json.loads(row[0]))

    def list(self, status: Status | None = None, limit: int = 100) -> builtins.list[Incident]:
        sql = "SELECT doc FROM incidents"
        args: tuple[object, ...] = ()
        if status is not None:
            sql, args = sql + " WHERE status=?", (status,)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY started_at DESC, id DESC LIMIT ?",
                                    (*args, limit)).fetchall()  # fmt: skip
        return [incident_from_dict(json.loads(r[0])) for r in rows]

    def unresolved(self) -> builtins.list[Incident]:
        with self._lock:
            rows = self._db.execute(
                "SELECT doc FROM incidents WHERE status != 'resolved' ORDER BY id"
            ).fetchall()
        return [incident_from_dict(json.loads(r[0])) for r in rows]
