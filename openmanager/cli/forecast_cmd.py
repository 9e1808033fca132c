"""`openmanager forecast EXPR --horizon 24h`: forecast every series of an expression, as a table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.table import Table

from openmanager.api.params import parse_step, parse_time
from openmanager.cli.api_client import api_data
from openmanager.cli.common import ConfigOption, console, fail, settings_or_exit
from openmanager.errors import OpenManagerError
from openmanager.services.forecast import ForecastService, describe_series
from openmanager.services.query import QueryService
from openmanager.tsdb.factory import open_storage


def forecast(
    expr: str = typer.Argument(..., help="PromQL expression, e.g. 'node_filesystem_avail_bytes'."),
    horizon: str = typer.Option("24h", help="How far ahead (1m to 7d)."),
    history: str | None = typer.Option(
        None, help="History to fit on (default: 3x horizon, >= 8d)."
    ),
    step: str | None = typer.Option(None, help="Resolution (default: chosen from the horizon)."),
    level: float = typer.Option(0.8, help="Prediction interval coverage."),
    season: str = typer.Option("auto", help="auto, none, daily or weekly."),
    threshold: float | None = typer.Option(
        None, help="Also report when each series reaches this value (time to exhaustion)."
    ),
    at: str | None = typer.Option(
        None, "--time", help="Forecast from this time (unix seconds or RFC 3339); default now."
    ),
    url: str | None = typer.Option(None, help="Ask a running OpenManager at this URL instead."),
    as_json: bool = typer.Option(False, "--json", help="Print the API `data` object as JSON."),
    config: Path | None = ConfigOption,
) -> None:
    """Forecast an expression with a prediction interval; optionally its time to exhaustion."""
    params: dict[str, str] = {"query": expr, "horizon": horizon, "level": str(level)}
    params["season"] = season
    for key, val in (("history", history), ("step", step), ("threshold", threshold), ("time", at)):
        if val is not None:
            params[key] = str(val)
    try:
        data = _remote(url, params) if url else _local(config, params)
    except OpenManagerError as exc:
        raise fail(exc) from exc
    if as_json:
        typer.echo(json.dumps(data, indent=1))
    else:
        console.print(_table(data, horizon))


def _local(config: Path | None, params: dict[str, str]) -> dict[str, Any]:
    storage = open_storage(settings_or_exit(config).storage)
    try:
        svc = ForecastService(QueryService(storage))
        horizon_ms = parse_step(params["horizon"], "horizon")
        results = svc.forecast(
            params["query"],
            horizon_ms,
            history_ms=parse_step(params["history"], "history") if "history" in params else None,
            step_ms=parse_step(params["step"]) if "step" in params else None,
            level=float(params["level"]),
            season=params["season"],
            threshold=float(params["threshold"]) if "threshold" in params else None,
            at_ms=parse_time(params["time"], "time") if "time" in params else None,
        )
        return {"horizon_seconds": horizon_ms / 1000, "result": [r.to_dict() for r in results]}
    finally:
        storage.close()


def _remote(url: str, params: dict[str, str]) -> dict[str, Any]:
    return api_data(
        url, lambda base: httpx.get(base + "/api/v1/forecast", params=params, timeout=300)
    )


def _fmt(v: float) -> str:
    a = abs(v)
    if a >= 1e9:
        return f"{v / 1e9:.2f}G"
    if a >= 1e6:
        return f"{v / 1e6:.2f}M"
    if a >= 1e3:
        return f"{v / 1e3:.2f}k"
    return f"{v:.3g}"


def _table(data: dict[str, Any], horizon: str) -> Table:
    rows = data["result"]
    with_ex = any("exhaustion" in r for r in rows)
    table = Table(title=f"forecast, {horizon} ahead")
    for col in ("series", "model", "last", f"at +{horizon}", "interval"):
        table.add_column(col)
    if with_ex:
        table.add_column("reaches threshold")
    table.add_column("notes")
    for r in rows:
        labels = tuple(sorted(r["metric"].items()))
        name = describe_series(labels)
        last = "" if r.get("last_value") is None else _fmt(r["last_value"])
        ex = r.get("exhaustion", {}).get("summary", "").split(": ", 1)[-1] if with_ex else None
        if "forecast" not in r:
            cells = [name, "-", last, "-", "-"] + ([""] if with_ex else []) + [r.get("error", "")]
            table.add_row(*cells, style="yellow")
            continue
        fc = r["forecast"]
        _, mean, lo, hi = fc["points"][-1]
        level = f"{fc['level']:.0%}"
        cells = [name, fc["model"], last, _fmt(mean), f"{level} {_fmt(lo)} - {_fmt(hi)}"]
        if with_ex:
            cells.append(ex or "")
        cells.append("; ".join(fc["notes"]))
        table.add_row(*cells)
    return table
