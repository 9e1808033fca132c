"""`openmanager incidents list|show|ack|resolve`: incidents of a running server (--url) or the local store."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.table import Table

from openmanager.cli.api_client import api_data
from openmanager.cli.common import ConfigOption, console, fail, settings_or_exit
from openmanager.errors import OpenManagerError
from openmanager.services.incidents import IncidentService
from openmanager.services.platform import open_meta_store

app = typer.Typer(
    help="Incidents: related alerts and anomalies grouped, with timeline and ranked causes.",
    no_args_is_help=True,
)

UrlOption = typer.Option(
    None,
    help="A running OpenManager (e.g. http://127.0.0.1:8080); default: the local incident store "
    "(ranked causes need a running server).",
)
JsonOption = typer.Option(False, "--json", help="Print JSON.")


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _call(url: str, method: str, path: str, body: Any = None, params: Any = None) -> Any:
    return api_data(
        url,
        lambda base: httpx.request(method, base + path, json=body, params=params, timeout=120),
    )


def _run(url: str | None, config: Path | None, remote: Any, local: Any) -> Any:
    try:
        if url:
            return remote(url)
        settings = settings_or_exit(config)
        meta = open_meta_store(settings)
        service = IncidentService.open(settings.incidents, meta)
        try:
            return local(service)
        finally:
            service.close()
            meta.close()
    except OpenManagerError as exc:
        raise fail(exc) from exc


@app.command("list")
def list_cmd(
    status: str | None = typer.Option(None, help="Only open, acknowledged or resolved ones."),
    limit: int = typer.Option(50, help="At most this many, newest first."),
    url: str | None = UrlOption,
    as_json: bool = JsonOption,
    config: Path | None = ConfigOption,
) -> None:
    """List incidents, newest first."""
    params = {"limit": limit, **({"status": status} if status else {})}
    rows = _run(
        url, config,
        lambda u: _call(u, "GET", "/api/v1/incidents", params=params),
        lambda s: [i.to_dict(with_timeline=False) for i in s.list(status, limit)],
    )  # fmt: skip
    if as_json:
        typer.echo(json.dumps(rows, indent=1))
        return
    table = Table(title="incidents")
    for col in ("id", "status", "started", "servers", "events", "title"):
        table.add_column(col)
    for r in rows:
        servers = ", ".join(r["servers"][:3]) + (" ..." if len(r["servers"]) > 3 else "")
        table.add_row(str(r["id"]), r["status"], _when(r["started_at"]), servers,
                      str(r["events"]), r["title"])  # fmt: skip
    console.print(table)


@app.command("show")
def show(
    ident: int = typer.Argument(..., help="Incident id (from `incidents list`)."),
    causes: int = typer.Option(5, help="How many ranked causes to show (needs --url)."),
    url: str | None = UrlOption,
    as_json: bool = JsonOption,
    config: Path | None = ConfigOption,
) -> None:
    """Show one incident: timeline and ranked candidate causes with their evidence."""
    data = _run(
        url, config,
        lambda u: _call(u, "GET", f"/api/v1/incidents/{ident}", params={"causes": causes}),
        lambda s: {**s.get(ident).to_dict(), "causes": []},
    )  # fmt: skip
    if as_json:
        typer.echo(json.dumps(data, indent=1))
        return
    console.print(f"[bold]incident {data['id']}[/bold] [{data['status']}] {data['title']}")
    console.print(f"servers: {', '.join(data['servers']) or '-'}")
    timeline = Table(title="timeline")
    for col in ("time", "kind", "server", "what"):
        timeline.add_column(col)
    for e in data["timeline"]:
        timeline.add_row(_when(e["at"]), e["kind"], e["server"] or "-", e["text"])
    console.print(timeline)
    if not data["causes"]:
        console.print("ranked causes: none" + ("" if url else " (ask a running server with --url)"))
        return
    ranked = Table(title="ranked causes")
    for col in ("#", "server", "metric", "score", "why", "PromQL"):
        ranked.add_column(col)
    for n, c in enumerate(data["causes"], 1):
        promql = c["evidence"][0]["promql"] if c["evidence"] else ""
        ranked.add_row(str(n), c["server"], c["metric"], f"{c['score']:.2f}",
                       "; ".join(c["reasons"]), promql)  # fmt: skip
    console.print(ranked)


def _action(ident: int, action: str, by: str, url: str | None, config: Path | None) -> None:
    data = _run(
        url, config,
        lambda u: _call(u, "POST", f"/api/v1/incidents/{ident}/{action}", body={"by": by}),
        lambda s: (s.acknowledge(ident, by) if action == "ack" else s.resolve(ident, by)).to_dict(),
    )  # fmt: skip
    console.print(f"incident {data['id']}: {data['status']}")


@app.command("ack")
def ack(
    ident: int = typer.Argument(..., help="Incident id."),
    by: str = typer.Option("openmanager-cli", "--by", help="Who is on it."),
    url: str | None = UrlOption,
    config: Path | None = ConfigOption,
) -> None:
    """Acknowledge an incident (someone is on it)."""
    _action(ident, "ack", by, url, config)


@app.command("resolve")
def resolve(
    ident: int = typer.Argument(..., help="Incident id."),
    by: str = typer.Option("openmanager-cli", "--by", help="Who resolved it."),
    url: str | None = UrlOption,
    config: Path | None = ConfigOption,
) -> None:
    """Resolve an incident by hand."""
    _action(ident, "resolve", by, url, config)
