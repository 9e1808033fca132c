"""`openmanager anomalies list`: stored anomalies of a running server (--url) or the local store."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.table import Table

from openmanager.cli.api_client import api_data
from openmanager.cli.common import ConfigOption, console, fail, settings_or_exit
from openmanager.errors import OpenManagerError
from openmanager.services.anomaly_store import AnomalyStore
from openmanager.services.platform import open_meta_store
from openmanager.units import parse_duration

app = typer.Typer(
    help="Anomalies the detection job found, with their evidence (expected band, PromQL).",
    no_args_is_help=True,
)


@app.command("list")
def list_cmd(
    server: str | None = typer.Option(None, help="Only this server."),
    metric: str | None = typer.Option(None, help="Only this metric or check (e.g. cpu)."),
    since: str | None = typer.Option(None, help="Only the last DURATION (e.g. 1h, 30m, 2d)."),
    limit: int = typer.Option(50, min=1, max=1000, help="At most this many, newest first."),
    url: str | None = typer.Option(
        None, help="A running OpenManager (e.g. http://127.0.0.1:8080); default: the local store."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    config: Path | None = ConfigOption,
) -> None:
    """List anomalies, newest first: when, server, check, observed vs expected, score."""
    try:
        since_s = time.time() - parse_duration(since) / 1000.0 if since else None
        if url:
            params: dict[str, Any] = {"limit": limit}
            params.update({k: v for k, v in (("server", server), ("metric", metric)) if v})
            if since_s is not None:
                params["since"] = f"{since_s:.3f}"
            rows: list[dict[str, Any]] = api_data(  # type: ignore[assignment]
                url,
                lambda base: httpx.get(base + "/api/v1/anomalies", params=params, timeout=60),
            )
        else:
            meta = open_meta_store(settings_or_exit(config))
            try:
                rows = AnomalyStore(meta).list(server, metric, since_s, limit)
            finally:
                meta.close()
    except OpenManagerError as exc:
        raise fail(exc) from exc
    if as_json:
        typer.echo(json.dumps(rows, indent=1))
        return
    if not rows:
        console.print("no anomalies")
        return
    table = Table(
        "time (UTC)", "server", "check", "observed", "expected (band)", "score", "agreeing"
    )
    for r in rows:
        when = datetime.fromtimestamp(r["window_end"], tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
        who = r["series"].get("server") or r["series"].get("instance", "")
        table.add_row(
            when, who, r["check"], f"{r['observed']:.4g}",
            f"{r['expected']:.4g} ({r['lower']:.4g}..{r['upper']:.4g})",
            f"{r['score']:.2f}", ",".join(r["agreeing"]),
        )  # fmt: skip
    console.print(table)
