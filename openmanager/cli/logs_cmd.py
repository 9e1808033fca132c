"""`openmanager logs`: search stored log lines (local store or a server) and optionally follow."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import typer
from rich.markup import escape

from openmanager.api.params import parse_time
from openmanager.cli.api_client import api_data
from openmanager.cli.common import ConfigOption, console, fail, settings_or_exit
from openmanager.errors import OpenManagerError
from openmanager.logs.record import LogRecord
from openmanager.logs.store import LogQuery, LogStore
from openmanager.units import parse_duration

Fetch = Callable[[int, int, int, bool], list[LogRecord]]
"""(start ms, end ms, limit, oldest first) -> matching lines."""

_COLOURS = {"debug": "dim", "info": "", "warning": "yellow", "error": "red", "critical": "bold red"}


def logs(
    server: str | None = typer.Option(None, "--server", "-s", help="Only this server's lines."),
    level: str | None = typer.Option(
        None, "--level", "-l", help="Minimum level: debug, info, warning, error, critical."
    ),
    since: str = typer.Option("1h", "--since", help="How far back to look, e.g. 15m, 1h, 7d."),
    until: str | None = typer.Option(
        None, "--until", help="End of the range (RFC 3339 or Unix s); default now."
    ),
    grep: str | None = typer.Option(
        None, "--grep", "-g", help="Words or a phrase the message contains (case-insensitive)."
    ),
    source: str | None = typer.Option(None, "--source", help="Only this log (syslog, app...)."),
    limit: int = typer.Option(100, "--limit", "-n", help="Lines shown (the newest ones)."),
    follow: bool = typer.Option(
        False, "--follow", "-f", help="Keep printing new lines as they arrive (Ctrl-C stops)."
    ),
    interval: float = typer.Option(2.0, "--interval", help="Seconds between polls with --follow."),
    url: str | None = typer.Option(
        None, help="Ask a running OpenManager at this URL instead of opening the local store."
    ),
    store: Path | None = typer.Option(
        None, "--store", help="Log store directory (default: logs.path, else storage.path/logs)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object per line."),
    config: Path | None = ConfigOption,
) -> None:
    """Show log lines by server, level, time and text, oldest first; --follow keeps tailing."""
    try:
        end = parse_time(until, "until") if until else int(time.time() * 1000)
        start = end - parse_duration(since)
        LogQuery(start, end, server, level, source, grep, limit)  # validate before any I/O
        fetch = (
            _remote(url, server, level, grep, source)
            if url
            else _local(_store_dir(store, config), server, level, grep, source)
        )
        lines = fetch(start, end, limit, False)[::-1]
        for r in lines:
            _print(r, as_json)
        if follow:
            _follow(fetch, lines, end, interval, as_json)
    except OpenManagerError as exc:
        raise fail(exc) from exc
    except KeyboardInterrupt:
        return


def _store_dir(store: Path | None, config: Path | None) -> Path:
    if store is not None:
        return store
    settings = settings_or_exit(config)
    return settings.logs.path or settings.storage.path / "logs"


def _local(path: Path, server: str | None, level: str | None, text: str | None,
           source: str | None) -> Fetch:  # fmt: skip
    db = LogStore(path)

    def fetch(start: int, end: int, limit: int, oldest_first: bool) -> list[LogRecord]:
        return db.search(LogQuery(start, end, server, level, source, text, limit, oldest_first))

    return fetch


def _remote(url: str, server: str | None, level: str | None, text: str | None,
            source: str | None) -> Fetch:  # fmt: skip
    filters = {"server": server, "level": level, "q": text, "source": source}

    def fetch(start: int, end: int, limit: int, oldest_first: bool) -> list[LogRecord]:
        params = {k: v for k, v in filters.items() if v is not None}
        params |= {"start": str(start / 1000), "end": str(end / 1000), "limit": str(limit),
                   "order": "asc" if oldest_first else "desc"}  # fmt: skip
        data = api_data(url, lambda base: httpx.get(base + "/api/v1/logs", params=params))
        return [LogRecord.from_dict(d) for d in data["lines"]]

    return fetch


def _follow(fetch: Fetch, shown: list[LogRecord], end: int, interval: float, as_json: bool) -> None:
    """Poll for lines after the last one shown; lines at the boundary millisecond print once."""
    last = max([end, *(r.ts_ms for r in shown)])
    seen = {r for r in shown if r.ts_ms == last}
    while True:
        time.sleep(interval)
        now = int(time.time() * 1000)
        for r in fetch(last, max(now, last), 10_000, True):
            if r in seen:
                continue
            _print(r, as_json)
            if r.ts_ms > last:
                last, seen = r.ts_ms, set()
            seen.add(r)


def _print(r: LogRecord, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(r.to_dict()))
        sys.stdout.flush()  # --follow through a pipe: each line as it comes
        return
    d, colour = r.to_dict(), _COLOURS.get(r.level, "")
    head = f"{d['time']} {r.server} {r.level.upper():<8} {r.source}:"
    text = f"{escape(head)} {escape(r.message)}"
    console.print(
        f"[{colour}]{text}[/{colour}]" if colour else text, highlight=False, soft_wrap=True
    )
    console.file.flush()
