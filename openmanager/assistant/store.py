"""Assistant interactions (question, evidence, answer, latency, rating) in SQLite."""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from pathlib import Path
from typing import Any

from openmanager.errors import InvalidInput, NotFound

SCHEMA = """
CREATE TABLE IF NOT EXISTS interactions (
    id TEXT PRIMARY KEY,
    at REAL NOT NULL,
    question TEXT NOT NULL,
    language TEXT NOT NULL,
    narrator TEXT NOT NULL,
    note TEXT NOT NULL,
    answer TEXT NOT NULL,
    evidence TEXT NOT NULL,
    latency_ms REAL NOT NULL,
    rating INTEGER,
    comment TEXT
);
CREATE INDEX IF NOT EXISTS interactions_at ON interactions (at);
"""
COLUMNS = ("id", "at", "question", "language", "narrator", "note", "answer", "evidence",
           "latency_ms", "rating", "comment")  # fmt: skip
RATINGS = range(1, 6)


class InteractionStore:
    """One SQLite file; safe to use from several threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock:
            self._db.executescript(SCHEMA)

    def add(self, record: dict[str, Any]) -> str:
        """Store one interaction; returns its id."""
        ident = record.get("id") or uuid.uuid4().hex[:16]
        row = {
            **record,
            "id": ident,
            "evidence": json.dumps(record["evidence"], ensure_ascii=False),
        }
        with self._lock, self._db:
            self._db.execute(
                f"INSERT INTO interactions ({', '.join(COLUMNS[:9])}) VALUES ({', '.join('?' * 9)})",
                [row[c] for c in COLUMNS[:9]],
            )
        return str(ident)

    def rate(self, ident: str, rating: int, comment: str = "") -> None:
        """Record the user's rating (1 = useless .. 5 = solved it)."""
        if rating not in RATINGS:
            raise InvalidInput(f"rating must be 1 to 5, got {rating}")
        with self._lock, self._db:
            cur = self._db.execute(
                "UPDATE interactions SET rating = ?, comment = ? WHERE id = ?",
                (rating, comment, ident),
            )
        if cur.rowcount == 0:
            raise NotFound(f"no interaction {ident!r}")

    def get(self, ident: str) -> dict[str, Any]:
        """One interaction with its evidence, or NotFound."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {', '.join(COLUMNS)} FROM interactions WHERE id = ?", (ident,)
            ).fetchone()
        if row is None:
            raise NotFound(f"no interaction {ident!r}")
        return self._dict(row)

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        """Newest interactions first (evidence left out)."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {', '.join(COLUMNS)} FROM interactions ORDER BY at DESC LIMIT ?", (limit,)
            ).fetchall()
        return [{k: v for k, v in self._dict(r).items() if k != "evidence"} for r in rows]

    @staticmethod
    def _dict(row: tuple[Any, ...]) -> dict[str, Any]:
        out = dict(zip(COLUMNS, row, strict=True))
        out["evidence"] = json.loads(out["evidence"])
        return out

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()
