"""`openmanager silence add|list|expire`: silences on a running server (--url) or in the local store."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.table import Table

from openmanager.cli.common import ConfigOption, console, fail, settings_or_exit
from openmanager.errors import InvalidInput, OpenManagerError, Unavailable
from openmanager.notify.matchers import MatcherError, parse_matchers
from openmanager.notify.model import iso
from openmanager.notify.silences import expired, find, new_silence
from openmanager.notify.store import SqliteNotifyStore, SqlNotifyStore
from openmanager.services.platform import open_meta_store
from openmanager.units import parse_duration

app = typer.Typer(help="Silence alerts: add, list and expire silences.", no_args_is_help=True)

UrlOption = typer.Option(
    None, help="A running OpenManager (e.g. http://127.0.0.1:8080); default: the local store."
)


def _store(config: Path | None) -> SqlNotifyStore:
    """The store `serve` uses: notify.history_file if set, else the metadata store."""
    settings = settings_or_exit(config)
    if settings.notify.history_file:
        return SqliteNotifyStore(settings.notify.history_file)
    return SqlNotifyStore(open_meta_store(settings), owns_db=True)


def _api(url: str, method: str, path: str, body: Any = None) -> Any:
    try:
        resp = httpx.request(method, url.rstrip("/") + path, json=body, timeout=30)
    except httpx.HTTPError as exc:
        raise Unavailable(f"cannot reach {url}: {exc}") from exc
    data = resp.json()
    if resp.status_code >= 400 or data.get("status") != "success":
        raise InvalidInput(str(data.get("error", resp.text)))
    return data["data"]


@app.command("add")
def add(
    matchers: list[str] = typer.Argument(
        ..., help='Matchers, e.g. alertname=HighCPU instance=~"db.*".'
    ),
    duration: str = typer.Option("1h", "--duration", "-d", help="How long the silence lasts."),
    comment: str = typer.Option("", "--comment", help="Why (shown in `list`)."),
    author: str = typer.Option("openmanager-cli", "--author", help="Who created it."),
    url: str | None = UrlOption,
    config: Path | None = ConfigOption,
) -> None:
    """Add a silence starting now; prints its id."""
    try:
        try:
            parsed = [m for text in matchers for m in parse_matchers(text)]
        except MatcherError as exc:
            raise InvalidInput(str(exc)) from None
        now = time.time()
        ends = now + parse_duration(duration) / 1000
        if url:
            body = {
                "matchers": [m.to_json() for m in parsed],
                "startsAt": iso(now),
                "endsAt": iso(ends),
                "createdBy": author,
                "comment": comment,
            }
            silence_id = _api(url, "POST", "/api/v1/silences", body)["silenceID"]
        else:
            store = _store(config)
            try:
                s = new_silence(parsed, now, ends, author, comment, now)
                store.put_silence(s)
                silence_id = s.id
            finally:
                store.close()
    except OpenManagerError as exc:
        raise fail(exc) from exc
    typer.echo(silence_id)


@app.command("list")
def list_(
    expired_too: bool = typer.Option(False, "--expired", help="Include expired silences."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (Alertmanager API v2 shape)."),
    url: str | None = UrlOption,
    config: Path | None = ConfigOption,
) -> None:
    """List silences (active and pending; --expired for all)."""
    try:
        if url:
            rows: list[dict[str, Any]] = _api(url, "GET", "/api/v1/silences")
        else:
            store = _store(config)
            try:
                now = time.time()
                rows = [s.to_json(now) for s in store.silences()]
            finally:
                store.close()
    except OpenManagerError as exc:
        raise fail(exc) from exc
    if not expired_too:
        rows = [r for r in rows if r["status"]["state"] != "expired"]
    if as_json:
        typer.echo(json.dumps(rows, indent=1))
        return
    table = Table(title="silences")
    for col in ("id", "matchers", "state", "starts", "ends", "by", "comment"):
        table.add_column(col)
    for r in rows:
        ms = " ".join(
            f'{m["name"]}{"=" if m["isEqual"] else "!"}{"~" if m["isRegex"] else ""}"{m["value"]}"'
            for m in r["matchers"]
        )
        table.add_row(
            r["id"],
            ms,
            r["status"]["state"],
            r["startsAt"],
            r["endsAt"],
            r["createdBy"],
            r["comment"],
        )
    console.print(table)


@app.command("expire")
def expire(
    silence_ids: list[str] = typer.Argument(..., help="Ids of the silences to end now."),
    url: str | None = UrlOption,
    config: Path | None = ConfigOption,
) -> None:
    """Expire silences now."""
    try:
        if url:
            for sid in silence_ids:
                _api(url, "DELETE", f"/api/v1/silences/{sid}")
        else:
            store = _store(config)
            try:
                now = time.time()
                current = store.silences()
                for sid in silence_ids:
                    store.put_silence(expired(find(current, sid), now))
            finally:
                store.close()
    except OpenManagerError as exc:
        raise fail(exc) from exc
    for sid in silence_ids:
        typer.echo(f"expired {sid}")
