"""`openmanager bench nab`: NAB score per profile beside every published detector on the same subset."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from openmanager.analytics.evaluate.nab_bench import DEFAULT_DATA, run, table_rows
from openmanager.cli.bench_cmd import app
from openmanager.cli.common import console, fail
from openmanager.errors import InvalidInput, OpenManagerError


@app.command("nab")
def nab(
    data: Path = typer.Option(
        DEFAULT_DATA, help="NAB corpus: data/, combined_windows.json, profiles.json."
    ),
    detector: str = typer.Option("adaptive", "--detector", "-d", help="Detector name."),
    settings: str | None = typer.Option(None, "--settings", help="Detector settings as JSON."),
) -> None:
    """Score the NAB corpus (threshold optimised per profile, as NAB does) and print the scoreboard."""
    try:
        if not (data / "combined_windows.json").exists():
            raise InvalidInput(f"{data} is not a NAB corpus (no combined_windows.json)")
        res = run(data, detector, json.loads(settings) if settings else None)
    except json.JSONDecodeError as exc:
        raise fail(InvalidInput(f"--settings is not JSON: {exc}")) from exc
    except OpenManagerError as exc:
        raise fail(exc) from exc
    console.print(f"{detector}: {res.rows} rows scored in {res.seconds:.1f}s")
    table = Table("detector", "standard", "reward_low_FP", "reward_low_FN")
    for label, vals in table_rows(res):
        style = "bold green" if label.startswith("OpenManager") else None
        table.add_row(label, *(f"{v:.2f}" for v in vals), style=style)
    console.print(table)
    for r in res.results:
        console.print(
            f"{r.profile}: threshold {r.threshold:.4f}, TP rows {r.tp}, FP rows {r.fp}, "
            f"false alarms on artificialNoAnomaly {res.false_alarms[r.profile]:.3f}/series/day"
        )
