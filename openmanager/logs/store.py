"""The log store: one SQLite file per UTC day, each with B-tree indexes and an FTS5 text index.

Searches touch only the days a time range covers and use the indexes inside each (server and
time, level and time, words of the message); retention deletes whole day files.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from openmanager.errors import InvalidInput
from openmanager.logs.record import LEVELS, LogRecord, level_number

DAY_MS = 86_400_000
MAX_LIMIT = 10_000
TOKENIZERS = ("unicode61", "trigram")

SEQ_BITS = 20
"""A line's id is (time in ms << SEQ_BITS) + its number within that millisecond, so the
table is clustered by time and a time range is an id range (also inside the FTS index)."""
SEQ_MASK = (1 << SEQ_BITS) - 1
MAX_TS_MS = (1 << (63 - SEQ_BITS)) - 1
"""The latest time a line id can hold (year 2248); searches are clamped to [0, MAX_TS_MS]."""
RARE_LEVEL = 2
"""Filters from this level (warning) up read the level index: such lines are few."""

# Secondary indexes end with the id implicitly: (server, id), (level, id), (server, level, id).
_SCHEMA = """
CREATE TABLE IF NOT EXISTS lines(
  id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, server TEXT NOT NULL,
  level INTEGER NOT NULL, source TEXT NOT NULL, message TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS lines_server ON lines(server);
CREATE INDEX IF NOT EXISTS lines_level ON lines(level);
CREATE INDEX IF NOT EXISTS lines_server_level ON lines(server, level);
CREATE VIRTUAL TABLE IF NOT EXISTS lines_fts USING fts5(
  message, content='lines', content_rowid='id', tokenize='{tokenizer}');
"""


@dataclass(frozen=True)
class LogQuery:
    """What to find: a time range [start, end], optional server, minimum level, source and text.

    `text` matches words of the message as a phrase, case-insensitively (`No space left`).
    Results come newest first unless `oldest_first`.
    """

    start_ms: int
    end_ms: int
    server: str | None = None
    level: str | None = None
    source: str | None = None
    text: str | None = None
    limit: int = 100
    oldest_first: bool = False

    def __post_init__(self) -> None:
        if self.end_ms < self.start_ms:
            raise InvalidInput(f"log search: end {self.end_ms} is before start {self.start_ms}")
        if not 1 <= self.limit <= MAX_LIMIT:
            raise InvalidInput(f"log search: limit must be 1..{MAX_LIMIT}, got {self.limit}")
        if self.level is not None:
            level_number(self.level)
        if self.text is not None and not self.text.strip():
            raise InvalidInput("log search: text must not be blank")


def day_of(ts_ms: int) -> int:
    """Days since the Unix epoch of a millisecond time (the partition key)."""
    return ts_ms // DAY_MS


def _phrase(text: str) -> str:
    """An FTS5 phrase query for literal user text (quotes doubled, so no query syntax leaks)."""
    return '"' + text.strip().replace('"', '""') + '"'


class LogStore:
    """Day partitions under `path` (`YYYY-MM-DD.sqlite`); thread-safe, one lock per store."""

    def __init__(self, path: Path, tokenizer: str = "unicode61") -> None:
        if tokenizer not in TOKENIZERS:
            raise InvalidInput(
                f"unknown log tokenizer {tokenizer!r}; known: {', '.join(TOKENIZERS)}"
            )
        self.path = path
        self.tokenizer = tokenizer
        self.path.mkdir(parents=True, exist_ok=True)
        self._conns: dict[int, sqlite3.Connection] = {}
        self._lock = threading.Lock()

    # ----------------------------------------------------------------- partitions

    def _file(self, day: int) -> Path:
        date = datetime.fromtimestamp(day * 86_400, tz=UTC).strftime("%Y-%m-%d")
        return self.path / f"{date}.sqlite"

    def days(self) -> list[int]:
        """Days that have a partition file, oldest first."""
        out = []
        for f in self.path.glob("*.sqlite"):
            try:
                dt = datetime.strptime(f.stem, "%Y-%m-%d").replace(tzinfo=UTC)
            except ValueError:
                continue
            out.append(int(dt.timestamp()) // 86_400)
        return sorted(out)

    def _conn(self, day: int, create: bool) -> sqlite3.Connection | None:
        conn = self._conns.get(day)
        if conn is not None:
            return conn
        file = self._file(day)
        if not create and not file.exists():
            return None
        conn = sqlite3.connect(file, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA mmap_size=268435456")
        conn.executescript(_SCHEMA.format(tokenizer=self.tokenizer))
        self._conns[day] = conn
        return conn

    # ----------------------------------------------------------------- writing

    def add(self, records: Iterable[LogRecord]) -> int:
        """Store records (any order, any days); returns how many were stored."""
        by_day: dict[int, list[LogRecord]] = {}
        for r in records:
            level_number(r.level)
            if not 0 <= r.ts_ms <= MAX_TS_MS:
                raise InvalidInput(f"log line time {r.ts_ms} ms is out of range")
            by_day.setdefault(day_of(r.ts_ms), []).append(r)
        with self._lock:
            for day, recs in by_day.items():
                conn = self._conn(day, create=True)
                assert conn is not None
                conn.execute("BEGIN")
                try:
                    rows = _with_ids(conn, recs)
                    conn.executemany(
                        "INSERT INTO lines(id, ts, server, level, source, message) "
                        "VALUES (?,?,?,?,?,?)",
                        rows,
                    )
                    conn.executemany(
                        "INSERT INTO lines_fts(rowid, message) VALUES (?, ?)",
                        [(row[0], row[5]) for row in rows],
                    )
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
        return sum(len(recs) for recs in by_day.values())

    def optimize(self) -> None:
        """Refresh the planner statistics and merge FTS segments (after bulk loads)."""
        with self._lock:
            for day in self.days():
                conn = self._conn(day, create=False)
                if conn is not None:
                    conn.execute("ANALYZE")
                    conn.execute("INSERT INTO lines_fts(lines_fts) VALUES ('optimize')")

    def apply_retention(self, now_ms: int, retention_ms: int) -> list[int]:
        """Delete the day files that end before `now - retention`; returns the days dropped."""
        cutoff = now_ms - retention_ms
        dropped = [d for d in self.days() if (d + 1) * DAY_MS <= cutoff]
        with self._lock:
            for day in dropped:
                conn = self._conns.pop(day, None)
                if conn is not None:
                    conn.close()
                base = self._file(day)
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{base}{suffix}").unlink(missing_ok=True)
        return dropped

    def close(self) -> None:
        """Close every open partition."""
        with self._lock:
            for conn in self._conns.values():
                conn.close()
            self._conns.clear()

    # ----------------------------------------------------------------- reading

    def search(self, q: LogQuery) -> list[LogRecord]:
        """Lines matching `q`, newest first (or oldest first), at most `q.limit`."""
        lo, hi = max(q.start_ms, 0), min(q.end_ms, MAX_TS_MS)
        if hi < lo:
            return []
        where: list[str] = ["l.id BETWEEN ? AND ?"]
        args: list[int | str] = [lo << SEQ_BITS, (hi << SEQ_BITS) | SEQ_MASK]
        if q.server is not None:
            where.append("l.server = ?")
            args.append(q.server)
        table = "lines l"
        if q.level is not None and level_number(q.level) > 0:
            levels = range(level_number(q.level), len(LEVELS))
            where.append(f"l.level IN ({','.join(str(n) for n in levels)})")
            if levels.start >= RARE_LEVEL and q.text is None:
                # Planner statistics see few distinct levels and would scan by time instead.
                index = "lines_server_level" if q.server is not None else "lines_level"
                table = f"lines l INDEXED BY {index}"
        if q.source is not None:
            where.append("l.source = ?")
            args.append(q.source)
        order = "ASC" if q.oldest_first else "DESC"
        columns = "SELECT l.ts, l.server, l.level, l.source, l.message"
        if q.text is not None and q.server is not None:
            # one server's lines (index on server, id) kept when the text index has them
            where.append(
                "l.id IN (SELECT rowid FROM lines_fts WHERE lines_fts MATCH ? "
                "AND rowid BETWEEN ? AND ?)"
            )
            args += [_phrase(q.text), args[0], args[1]]
        if q.text is not None and q.server is None:
            # the whole fleet: walk the text index in id (= time) order, stop at the limit
            where[0] = "f.rowid BETWEEN ? AND ?"
            where.insert(0, "lines_fts MATCH ?")
            args.insert(0, _phrase(q.text))
            sql = (
                f"{columns} FROM lines_fts f JOIN lines l ON l.id = f.rowid "
                f"WHERE {' AND '.join(where)} ORDER BY f.rowid {order}"
            )
        else:
            sql = f"{columns} FROM {table} WHERE {' AND '.join(where)} ORDER BY l.id {order}"
        sql += " LIMIT ?"
        days = [d for d in self.days() if day_of(lo) <= d <= day_of(hi)]
        out: list[LogRecord] = []
        with self._lock:
            for day in days if q.oldest_first else reversed(days):
                conn = self._conn(day, create=False)
                if conn is None:
                    continue
                rows = conn.execute(sql, [*args, q.limit - len(out)]).fetchall()
                out.extend(_records(rows))
                if len(out) >= q.limit:
                    break
        return out

    def latest_ms(self, servers: Sequence[str] | None = None) -> int | None:
        """Time of the newest stored line (of any of `servers`), None when there is none."""
        args: list[list[str]]
        if servers is None:
            sql, args = "SELECT max(id) FROM lines", [[]]
        else:
            sql, args = "SELECT max(id) FROM lines WHERE server = ?", [[s] for s in servers]
        with self._lock:
            for day in reversed(self.days()):
                conn = self._conn(day, create=False)
                if conn is None:
                    continue
                found = [conn.execute(sql, a).fetchone()[0] for a in args]
                top = max((x for x in found if x is not None), default=None)
                if top is not None:
                    return int(top) >> SEQ_BITS
        return None

    def count(self) -> int:
        """Lines stored over every partition."""
        with self._lock:
            total = 0
            for day in self.days():
                conn = self._conn(day, create=False)
                if conn is not None:
                    total += conn.execute("SELECT count(*) FROM lines").fetchone()[0]
            return total


def _with_ids(
    conn: sqlite3.Connection, recs: list[LogRecord]
) -> list[tuple[int, int, str, int, str, str]]:
    """Rows with ids (ms << SEQ_BITS) + n, n counting on from lines already stored in that ms."""
    top = conn.execute("SELECT coalesce(max(id), -1) FROM lines").fetchone()[0]
    nxt: dict[int, int] = {}
    rows = []
    for r in sorted(recs, key=lambda x: x.ts_ms):
        base = r.ts_ms << SEQ_BITS
        n = nxt.get(r.ts_ms)
        if n is None:
            n = 0
            if base <= top:  # this millisecond may already have lines
                got = conn.execute(
                    "SELECT max(id) FROM lines WHERE id BETWEEN ? AND ?", (base, base | SEQ_MASK)
                ).fetchone()[0]
                n = 0 if got is None else got - base + 1
        if n > SEQ_MASK:
            raise InvalidInput(f"more than {SEQ_MASK + 1} log lines in one millisecond")
        nxt[r.ts_ms] = n + 1
        rows.append((base + n, r.ts_ms, r.server, level_number(r.level), r.source, r.message))
    return rows


def _records(rows: Sequence[tuple[int, str, int, str, str]]) -> list[LogRecord]:
    return [LogRecord(ts, server, LEVELS[lvl], src, msg) for ts, server, lvl, src, msg in rows]
