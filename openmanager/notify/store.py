"""Where notify state lives: silences and alert history, behind a small interface (SQLite here)."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from openmanager.notify.matchers import Matcher
from openmanager.notify.model import iso
from openmanager.notify.silences import Silence


@dataclass(frozen=True)
class NotificationRecord:
    """One delivery attempt outcome for one receiver integration."""

    receiver: str
    integration: str
    group_key: str
    at: float
    status: str  # sent | failed
    attempts: int
    error: str
    firing: Sequence[str]  # fingerprints
    resolved: Sequence[str]


LogKey = tuple[str, str, int]
"""(group key, receiver, integration index): one notification-log entry."""


class NotifyStore(Protocol):
    """Persistence used by the notifier; a PostgreSQL implementation can follow this interface."""

    def put_silence(self, s: Silence) -> None: ...
    def silences(self) -> list[Silence]: ...
    def open_episode(
        self, fp: str, labels: Mapping[str, str], annotations: Mapping[str, str], at: float
    ) -> None: ...
    def resolve_episode(self, fp: str, at: float) -> None: ...
    def set_flapping(self, fp: str, flapping: bool) -> None: ...
    def record_notification(self, rec: NotificationRecord) -> None: ...
    def history(
        self, *, alertname: str | None, since: float | None, until: float | None, limit: int
    ) -> list[dict[str, Any]]: ...
    def put_log(
        self, key: LogKey, firing: Sequence[str], resolved: Sequence[str], at: float
    ) -> None: ...
    def logs(self) -> dict[LogKey, tuple[list[str], list[str], float]]: ...
    def prune(self, before: float) -> int: ...
    def close(self) -> None: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS silences (
  id TEXT PRIMARY KEY, matchers TEXT NOT NULL, starts_at REAL NOT NULL, ends_at REAL NOT NULL,
  created_by TEXT NOT NULL, comment TEXT NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS episodes (
  id INTEGER PRIMARY KEY AUTOINCREMENT, fingerprint TEXT NOT NULL, alertname TEXT NOT NULL,
  labels TEXT NOT NULL, annotations TEXT NOT NULL, fired_at REAL NOT NULL, resolved_at REAL,
  flapping INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS episodes_fp ON episodes (fingerprint, resolved_at);
CREATE INDEX IF NOT EXISTS episodes_fired ON episodes (fired_at);
CREATE TABLE IF NOT EXISTS notifications (
  id INTEGER PRIMARY KEY AUTOINCREMENT, receiver TEXT NOT NULL, integration TEXT NOT NULL,
  group_key TEXT NOT NULL, at REAL NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL,
  error TEXT NOT NULL, kind TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS notification_episodes (
  notification_id INTEGER NOT NULL, episode_id INTEGER NOT NULL, state TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS ne_episode ON notification_episodes (episode_id);
CREATE TABLE IF NOT EXISTS nflog (
  group_key TEXT NOT NULL, receiver TEXT NOT NULL, idx INTEGER NOT NULL, firing TEXT NOT NULL,
  resolved TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (group_key, receiver, idx));
"""


class SqliteNotifyStore:
    """NotifyStore in one SQLite file (or `:memory:`); safe to share between threads."""

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

    # silences
    def put_silence(self, s: Silence) -> None:
        matchers = json.dumps([[m.name, m.op, m.value] for m in s.matchers])
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO silences VALUES (?,?,?,?,?,?,?)",
                (s.id, matchers, s.starts_at, s.ends_at, s.created_by, s.comment, s.updated_at),
            )

    def silences(self) -> list[Silence]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM silences ORDER BY starts_at").fetchall()
        return [
            Silence(
                id=r[0],
                matchers=tuple(Matcher.make(*m) for m in json.loads(r[1])),
                starts_at=r[2],
                ends_at=r[3],
                created_by=r[4],
                comment=r[5],
                updated_at=r[6],
            )
            for r in rows
        ]

    # history
    def _open_id(self, fp: str) -> int | None:
        row = self._db.execute(
            "SELECT id FROM episodes WHERE fingerprint=? AND resolved_at IS NULL ORDER BY id DESC",
            (fp,),
        ).fetchone()
        return None if row is None else int(row[0])

    def open_episode(
        self, fp: str, labels: Mapping[str, str], annotations: Mapping[str, str], at: float
    ) -> None:
        with self._lock:
            if self._open_id(fp) is not None:
                return
            self._db.execute(
                "INSERT INTO episodes (fingerprint, alertname, labels, annotations, fired_at)"
                " VALUES (?,?,?,?,?)",
                (
                    fp,
                    labels.get("alertname", ""),
                    json.dumps(dict(labels), sort_keys=True),
                    json.dumps(dict(annotations), sort_keys=True),
                    at,
                ),
            )

    def resolve_episode(self, fp: str, at: float) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE episodes SET resolved_at=? WHERE fingerprint=? AND resolved_at IS NULL",
                (at, fp),
            )

    def set_flapping(self, fp: str, flapping: bool) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE episodes SET flapping=? WHERE id = (SELECT MAX(id) FROM episodes"
                " WHERE fingerprint=?)",
                (int(flapping), fp),
            )

    def record_notification(self, rec: NotificationRecord) -> None:
        kind = "firing" if rec.firing else "resolved"
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO notifications (receiver, integration, group_key, at, status,"
                " attempts, error, kind) VALUES (?,?,?,?,?,?,?,?)",
                (
                    rec.receiver,
                    rec.integration,
                    rec.group_key,
                    rec.at,
                    rec.status,
                    rec.attempts,
                    rec.error,
                    kind,
                ),
            )
            nid = cur.lastrowid
            for state, fps in (("firing", rec.firing), ("resolved", rec.resolved)):
                for fp in fps:
                    row = self._db.execute(
                        "SELECT MAX(id) FROM episodes WHERE fingerprint=?", (fp,)
                    ).fetchone()
                    if row is not None and row[0] is not None:
                        self._db.execute(
                            "INSERT INTO notification_episodes VALUES (?,?,?)", (nid, row[0], state)
                        )

    # notification log (what each integration was last told, for dedup across restarts)
    def put_log(
        self, key: LogKey, firing: Sequence[str], resolved: Sequence[str], at: float
    ) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO nflog VALUES (?,?,?,?,?,?)",
                (*key, json.dumps(sorted(firing)), json.dumps(sorted(resolved)), at),
            )

    def logs(self) -> dict[LogKey, tuple[list[str], list[str], float]]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM nflog").fetchall()
        return {(r[0], r[1], int(r[2])): (json.loads(r[3]), json.loads(r[4]), r[5]) for r in rows}

    def prune(self, before: float) -> int:
        """Drop resolved episodes, notifications, log entries and silences older than `before`."""
        with self._lock:
            old = "SELECT id FROM episodes WHERE resolved_at IS NOT NULL AND resolved_at < ?"
            self._db.execute(
                f"DELETE FROM notification_episodes WHERE episode_id IN ({old})", (before,)
            )
            n = self._db.execute(
                "DELETE FROM episodes WHERE resolved_at IS NOT NULL AND resolved_at < ?", (before,)
            ).rowcount
            self._db.execute(
                "DELETE FROM notifications WHERE at < ? AND id NOT IN"
                " (SELECT notification_id FROM notification_episodes)",
                (before,),
            )
            self._db.execute("DELETE FROM nflog WHERE at < ?", (before,))
            self._db.execute("DELETE FROM silences WHERE ends_at < ?", (before,))
        return int(n)

    def history(
        self, *, alertname: str | None, since: float | None, until: float | None, limit: int
    ) -> list[dict[str, Any]]:
        where: list[str] = ["1=1"]
        args: list[Any] = []
        if alertname:
            where.append("alertname=?")
            args.append(alertname)
        if since is not None:
            where.append("(resolved_at IS NULL OR resolved_at >= ?)")
            args.append(since)
        if until is not None:
            where.append("fired_at <= ?")
            args.append(until)
        sql = (
            "SELECT id, fingerprint, labels, annotations, fired_at, resolved_at, flapping"
            f" FROM episodes WHERE {' AND '.join(where)} ORDER BY fired_at DESC, id DESC LIMIT ?"
        )
        with self._lock:
            rows = self._db.execute(sql, [*args, limit]).fetchall()
            out = []
            for eid, fp, labels, annotations, fired, resolved, flapping in rows:
                notes = self._db.execute(
                    "SELECT n.receiver, n.integration, n.at, n.status, n.attempts, n.error, ne.state"
                    " FROM notification_episodes ne JOIN notifications n"
                    " ON n.id = ne.notification_id WHERE ne.episode_id=? ORDER BY n.at",
                    (eid,),
                ).fetchall()
                per_receiver: dict[str, dict[str, int]] = {}
                for rcv, _integ, _at, status, *_ in notes:
                    counts = per_receiver.setdefault(rcv, {"sent": 0, "failed": 0})
                    counts[status] = counts.get(status, 0) + 1
                out.append(
                    {
                        "fingerprint": fp,
                        "labels": json.loads(labels),
                        "annotations": json.loads(annotations),
                        "firedAt": iso(fired),
                        "resolvedAt": iso(resolved) if resolved is not None else None,
                        "durationSeconds": None if resolved is None else round(resolved - fired, 3),
                        "flapping": bool(flapping),
                        "notificationsPerReceiver": per_receiver,
                        "notifications": [
                            {
                                "receiver": r[0],
                                "integration": r[1],
                                "at": iso(r[2]),
                                "status": r[3],
                                "attempts": r[4],
                                "error": r[5],
                                "alertState": r[6],
                            }
                            for r in notes
                        ],
                    }
                )
        return out
