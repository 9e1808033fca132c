"""`openmanager scale recommend`: scale up / down / hold per group, with reasons and cost."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from openmanager.analytics.scale.recommend import ScalePolicy
from openmanager.api.params import parse_time
from openmanager.cli.common import ConfigOption, console, fail, settings_or_exit
from openmanager.errors import OpenManagerError
from openmanager.services.query import QueryService
from openmanager.services.scale import ScaleService
from openmanager.tsdb.factory import open_storage

app = typer.Typer(help="Autoscaling recommendations.", no_args_is_help=True)


@app.command("recommend")
def recommend(
    group_by: str = typer.Option("role", help="Label that defines a scalable group."),
    target: float = typer.Option(0.63, help="Target CPU utilisation of the forecast peak."),
    min_replicas: int = typer.Option(1, "--min", help="Minimum replicas per group."),
    max_replicas: int = typer.Option(100, "--max", help="Maximum replicas per group."),
    max_step: int = typer.Option(4, help="Largest change in one recommendation."),
    cost: float = typer.Option(0.10, help="Cost per instance-hour."),
    at: str | None = typer.Option(None, "--time", help="Recommend as of this time; default now."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    config: Path | None = ConfigOption,
) -> None:
    """Recommend replicas per group from its CPU demand forecast and its demand now."""
    storage = open_storage(settings_or_exit(config).storage)
    try:
        policy = ScalePolicy.for_target(
            target, min_replicas=min_replicas, max_replicas=max_replicas, max_step=max_step,
            cost_per_instance_hour=cost,
        )  # fmt: skip
        t = parse_time(at, "time") if at else None
        rows = ScaleService(QueryService(storage)).recommend(policy, group_by, t)
    except OpenManagerError as exc:
        raise fail(exc) from exc
    finally:
        storage.close()
    if as_json:
        typer.echo(json.dumps(rows, indent=1))
        return
    table = Table(title=f"scaling by {group_by}")
    for col in ("group", "action", "replicas", "confidence", "cost/h", "reasons"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            ",".join(r["group"].values()), r["action"], f"{r['current']} -> {r['target']}",
            f"{r.get('confidence', 0):.2f}", f"{r.get('cost_change_per_hour', 0):+.2f}",
            r.get("error") or "; ".join(r.get("reasons", [])),
        )  # fmt: skip
    console.print(table)
