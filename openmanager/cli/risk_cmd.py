"""`openmanager risk`: failure-risk score per server with the factors behind it."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from openmanager.api.params import parse_time
from openmanager.cli.common import ConfigOption, console, fail, settings_or_exit
from openmanager.errors import OpenManagerError
from openmanager.services.query import QueryService
from openmanager.services.risk import RiskService
from openmanager.tsdb.factory import open_storage


def risk(
    at: str | None = typer.Option(None, "--time", help="Score at this time; default now."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    config: Path | None = ConfigOption,
) -> None:
    """Failure-risk score (0-1) per server, highest first, with its contributing factors."""
    storage = open_storage(settings_or_exit(config).storage)
    try:
        t = parse_time(at, "time") if at else None
        rows = RiskService(QueryService(storage)).scores(t)
    except OpenManagerError as exc:
        raise fail(exc) from exc
    finally:
        storage.close()
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in rows], indent=1))
        return
    table = Table(title="failure risk")
    for col in ("server", "risk", "factors"):
        table.add_column(col)
    for r in rows:
        reasons = ", ".join(f"{x['factor']} {x['value']:.2f}" for x in r.reasons[:3])
        table.add_row(r.server, f"{r.score:.2f}", reasons or "-")
    console.print(table)
