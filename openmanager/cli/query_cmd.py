"""`openmanager query EXPR`: PromQL from the command line, against the local store or a server."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.table import Table

from openmanager.api.params import parse_step, parse_time
from openmanager.api.promjson import format_value
from openmanager.api.routes.query import result_json
from openmanager.cli.api_client import api_data
from openmanager.cli.common import ConfigOption, console, fail, settings_or_exit
from openmanager.errors import InvalidInput, OpenManagerError
from openmanager.services.query import QueryService
from openmanager.tsdb.factory import open_storage


def query(
    expr: str = typer.Argument(..., help="PromQL expression, e.g. 'avg by (role) (node_load1)'."),
    at: str | None = typer.Option(
        None, "--time", help="Evaluation time (unix seconds or RFC 3339); default now."
    ),
    start: str | None = typer.Option(None, help="Range query start (with --end and --step)."),
    end: str | None = typer.Option(None, help="Range query end."),
    step: str = typer.Option("60s", help="Range query step (e.g. 15s, 1m)."),
    url: str | None = typer.Option(
        None,
        help="Ask a running OpenManager (or Prometheus) at this URL instead of opening the local store.",
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print the Prometheus API `data` object as JSON."
    ),
    config: Path | None = ConfigOption,
) -> None:
    """Evaluate a PromQL expression and print the result as a table (or JSON)."""
    try:
        if (start is None) != (end is None):
            raise InvalidInput("give both --start and --end for a range query")
        params: dict[str, str] = {"query": expr}
        if start is not None and end is not None:
            params.update(start=start, end=end, step=step)
        elif at is not None:
            params["time"] = at
        data = _remote(url, params) if url else _local(config, params)
    except OpenManagerError as exc:
        raise fail(exc) from exc
    if as_json:
        typer.echo(json.dumps(data, indent=1))
    else:
        console.print(_table(data))


def _local(config: Path | None, params: dict[str, str]) -> dict[str, Any]:
    storage = open_storage(settings_or_exit(config).storage)
    try:
        service = QueryService(storage)
        if "start" in params:
            result = service.range(
                params["query"],
                parse_time(params["start"], "start"),
                parse_time(params["end"], "end"),
                parse_step(params["step"]),
            )
        else:
            t = parse_time(params["time"], "time") if "time" in params else int(time.time() * 1000)
            result = service.instant(params["query"], t)
        return result_json(result)
    finally:
        storage.close()


def _remote(url: str, params: dict[str, str]) -> dict[str, Any]:
    path = "/api/v1/query_range" if "start" in params else "/api/v1/query"
    return api_data(url, lambda base: httpx.post(base + path, data=params, timeout=120))


def _table(data: dict[str, Any]) -> Table:
    kind = data["resultType"]
    table = Table(title=f"{kind} result", show_lines=False)
    if kind in ("scalar", "string"):
        table.add_column("time")
        table.add_column("value")
        table.add_row(str(data["result"][0]), str(data["result"][1]))
        return table
    table.add_column("series")
    table.add_column("value" if kind == "vector" else "points (last value)")
    for row in data["result"]:
        labels = ", ".join(f'{k}="{v}"' for k, v in sorted(row["metric"].items()))
        if kind == "vector":
            table.add_row(f"{{{labels}}}", row["value"][1])
        else:
            values = row["values"]
            last = format_value(float(values[-1][1])) if values else ""
            table.add_row(f"{{{labels}}}", f"{len(values)} ({last})")
    return table
