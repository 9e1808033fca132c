"""ClickHouse: a table of samples (metric, labels map, timestamp, value), written as JSONEachRow.

Two transports behind one exporter: ClickHouse's HTTP interface (`http://host:8123`, the
`INSERT` in the `query` parameter, rows in the body; credentials through `headers`, e.g.
`X-ClickHouse-User`/`X-ClickHouse-Key`) or the `chdb` embedded engine (`chdb:///path/to/dir`),
which needs `pip install chdb`. The database and table are created on first use.
NaN/infinity are skipped (JSON cannot carry them).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any, Protocol

import httpx

from openmanager.config.exporters import ExporterSettings
from openmanager.errors import Unavailable
from openmanager.export.base import ExportRejected, Sample, post
from openmanager.export.registry import http_client

TABLE_SQL = """CREATE TABLE IF NOT EXISTS {db}.{table} (
    metric LowCardinality(String),
    labels Map(LowCardinality(String), String),
    timestamp DateTime64(3, 'UTC'),
    value Float64
) ENGINE = MergeTree ORDER BY (metric, timestamp)"""


def rows(batch: Sequence[Sample]) -> tuple[bytes, int]:
    """The batch as JSONEachRow lines, and how many rows."""
    heads: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}  # each series encoded once
    lines = []
    for s in batch:
        if not math.isfinite(s.value):
            continue
        head = heads.get((s.name, s.labels))
        if head is None:
            metric, labels = json.dumps(s.name), json.dumps(dict(s.labels), separators=(",", ":"))
            head = heads[(s.name, s.labels)] = f'{{"metric":{metric},"labels":{labels}'
        t = s.timestamp_ms
        lines.append(
            f'{head},"timestamp":"{t // 1000}.{t % 1000:03d}","value":{float(s.value)!r}}}'
        )
    return ("\n".join(lines) + "\n").encode(), len(lines)


class Transport(Protocol):
    """Runs one SQL statement, with an optional body of input data."""

    def execute(self, sql: str, data: bytes = b"") -> None: ...

    def close(self) -> None: ...


class HTTPTransport:
    """ClickHouse's HTTP interface."""

    def __init__(self, url: str, client: httpx.Client) -> None:
        self.url = url.rstrip("/") + "/"
        self.client = client

    def execute(self, sql: str, data: bytes = b"") -> None:
        if data:
            post(self.client, self.url, "clickhouse", content=data, params={"query": sql})
        else:
            post(self.client, self.url, "clickhouse", content=sql.encode())

    def close(self) -> None:
        self.client.close()


class ChdbTransport:
    """The chdb embedded engine over a data directory (chdb serves one directory per process)."""

    def __init__(self, path: str) -> None:
        try:
            from chdb import session  # type: ignore[import-untyped,unused-ignore]
        except ImportError as exc:
            raise Unavailable("chdb:// needs the chdb package: pip install chdb") from exc
        self.session: Any = session.Session(path)  # type: ignore[no-untyped-call,unused-ignore]

    def execute(self, sql: str, data: bytes = b"") -> None:
        statement = f"{sql} {data.decode()}" if data else sql
        try:
            self.session.query(statement)
        except Exception as exc:  # chdb raises its own error type for any SQL failure
            raise ExportRejected(f"chdb: {exc}") from exc

    def close(self) -> None:
        self.session.close()


class ClickHouseExporter:
    """Inserts batches into `{database}.{table}`."""

    kind = "clickhouse"

    def __init__(self, settings: ExporterSettings, client: httpx.Client | None = None) -> None:
        self.settings = settings
        self.transport: Transport = (
            ChdbTransport(settings.url.removeprefix("chdb://"))
            if settings.url.startswith("chdb://")
            else HTTPTransport(settings.url, http_client(settings, client))
        )
        self.target = f"`{settings.database}`.`{settings.table}`"
        self._ready = False

    def send(self, batch: Sequence[Sample]) -> int:
        data, count = rows(batch)
        if count == 0:
            return 0
        self._ensure_table()
        self.transport.execute(f"INSERT INTO {self.target} FORMAT JSONEachRow", data)
        return count

    def close(self) -> None:
        self.transport.close()

    def _ensure_table(self) -> None:
        if self._ready:
            return
        db = f"`{self.settings.database}`"
        self.transport.execute(f"CREATE DATABASE IF NOT EXISTS {db}")
        self.transport.execute(TABLE_SQL.format(db=db, table=f"`{self.settings.table}`"))
        self._ready = True
