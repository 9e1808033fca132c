"""`openmanager bench api`: load test of the main read endpoints with a grade A-F."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from openmanager.bench.api import SHORT_NAMES, ApiBench, endpoint_names, run_load, started_instance
from openmanager.bench.api_grade import THRESHOLDS
from openmanager.cli.bench_cmd import app
from openmanager.cli.common import console, fail
from openmanager.errors import OpenManagerError


@app.command("api")
def bench_api(
    url: str | None = typer.Option(
        None,
        "--url",
        help="A running instance to load; default: start one with the simulated fleet.",
    ),
    duration: float = typer.Option(
        60.0, min=1.0, help="Seconds of steady load, counted once every client has started."
    ),
    concurrency: int = typer.Option(
        200, min=1, max=10_000, help="Concurrent clients, each sending requests back to back."
    ),
    endpoint: list[str] = typer.Option(
        list(SHORT_NAMES),
        "--endpoint",
        help="Endpoints to drive (repeat): fleet (/api/v1/fleet), instant (/api/v1/query), "
        "range (/api/v1/query_range over 30m). Mixed 6:3:1 by default.",
    ),
    backfill: str = typer.Option(
        "30m", help="History the started instance writes first (so range queries have data)."
    ),
    api_key: str = typer.Option(
        "",
        "--api-key",
        envvar="OPENMANAGER_API_KEY",
        help="API key sent as X-API-Key when the instance has security.auth on.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    """Load-test the fleet summary, instant and range queries with locust: req/s, latency percentiles and a grade per endpoint.

    Grades (the best whose three thresholds are all met, else F): A >= 2,000 req/s, p99 < 50 ms, errors <= 0.1%; B >= 1,000 req/s, p99 < 100 ms, errors <= 0.5%; C >= 500 req/s, p99 < 250 ms, errors <= 1%; D >= 100 req/s, p99 < 1 s, errors <= 5%.

    The generator (locust, one process) shares the machine with the server: on a small machine it may saturate before the server does; compare with `wrk` on a single endpoint.
    """
    try:
        names = endpoint_names(endpoint)

        def say(msg: str) -> None:
            if not as_json:
                console.print(f"[dim]{msg}[/dim]")

        if url is None:
            with started_instance(backfill, say) as started:
                say(f"{concurrency} clients for {duration:.0f}s against {started} ...")
                bench = run_load(started, duration, concurrency, names, api_key)
        else:
            say(f"{concurrency} clients for {duration:.0f}s against {url} ...")
            bench = run_load(url, duration, concurrency, names, api_key)
    except OpenManagerError as exc:
        raise fail(exc) from exc
    if as_json:
        typer.echo(json.dumps(bench.to_json(), indent=1))
        return
    console.print(table(bench), width=max(console.width, 120))
    for t in THRESHOLDS:
        console.print(f"  grade {t.describe()}", highlight=False)
    console.print("  grade F: anything below D", highlight=False)
    if bench.errors:
        console.print(f"[yellow]errors:[/yellow] {bench.errors}")


def table(bench: ApiBench) -> Table:
    """One row per endpoint and a total row."""
    t = Table(title=f"{bench.users} clients, {bench.duration_s:.0f}s against {bench.url}")
    for col in (
        "endpoint",
        "requests",
        "req/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "errors",
        "grade",
    ):
        t.add_column(col, justify="left" if col == "endpoint" else "right")
    for e in [*bench.endpoints, bench.total]:
        t.add_row(e.name, f"{e.requests:,}", f"{e.rps:,.0f}", f"{e.p50_ms:.0f}", f"{e.p90_ms:.0f}",
                  f"{e.p99_ms:.0f}", f"{e.max_ms:.0f}", f"{e.error_pct:.2f}%", e.grade())  # fmt: skip
    return t
