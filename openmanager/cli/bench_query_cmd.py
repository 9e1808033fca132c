"""`openmanager bench query`: the peer harness's PromQL suite on OpenManager, Prometheus and
VictoriaMetrics in one run; prints per-cell medians, ratios to Prometheus and value agreement."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from openmanager.bench.query import DEFAULT_HARNESS, QueryBench, run
from openmanager.cli.bench_cmd import app
from openmanager.cli.common import console

TARGETS = ("openmanager", "prometheus", "victoriametrics")


@app.command("query")
def bench_query(
    workload: Path = typer.Option(
        Path("/tmp/peers/data"),
        help="Directory with the harness's fleet.om, fleet.prom and manifest.json "
        "(make it with gen_workload.py --out DIR).",
    ),
    work: Path = typer.Option(
        Path("/tmp/openmanager-bench-query"),
        help="Scratch directory: peers' data (reused by later runs), logs, JSON results.",
    ),
    data_dir: Path | None = typer.Option(
        None,
        "--data-dir",
        help="OpenManager store to load into, or reuse when a previous run loaded it.",
    ),
    harness: Path = typer.Option(DEFAULT_HARNESS, help="The peer harness (bench_queries.py)."),
    reps: int = typer.Option(7, min=1, help="Timed repetitions per cell (after one warm-up)."),
    target: list[str] = typer.Option(
        list(TARGETS), "--target", help="Targets to run; Prometheus always runs (the baseline)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    """Time the fixed 10-query x 2-window suite on every target; ratios are to Prometheus."""
    unknown = set(target) - set(TARGETS)
    if unknown:
        raise typer.BadParameter(f"unknown target(s) {sorted(unknown)}; choose from {TARGETS}")
    if not (workload / "manifest.json").is_file():
        raise typer.BadParameter(f"{workload} has no manifest.json: run gen_workload.py first")
    bench = run(
        workload,
        work,
        harness=harness,
        om_data=data_dir,
        reps=reps,
        targets=tuple(target),
        say=lambda msg: console.print(f"[dim]{msg}[/dim]"),
    )
    if as_json:
        typer.echo(json.dumps(bench.to_dict(), indent=1))
    else:
        console.print(table(bench), width=max(console.width, 200))
        console.print(summary(bench), markup=False, highlight=False)
    console.print(f"figures: {work / 'bench-query.json'}")


def table(bench: QueryBench) -> Table:
    """One row per cell: each target's median ms, ratio to Prometheus and value agreement."""
    others = [t for t in bench.targets if t != "prometheus"]
    out = Table(title=f"PromQL suite, median of {bench.reps} (ms); ratio = target / Prometheus")
    out.add_column("query")
    out.add_column("window")
    out.add_column("prometheus", justify="right")
    for t in others:
        out.add_column(t, justify="right")
        out.add_column("ratio", justify="right")
        out.add_column("agree %", justify="right")
    closed = any(c.closed_agree_pct is not None for c in bench.cells)
    if closed:
        out.add_column("agree % (P2 windows)", justify="right")
    for cell in bench.cells:
        row = [cell.name, cell.range, f"{cell.median_ms['prometheus']:.1f}"]
        for t in others:
            row += [
                f"{cell.median_ms[t]:.1f}",
                f"{cell.ratio(t):.2f}x",
                f"{cell.agree_pct[t]:.2f}",
            ]
        if closed:
            row.append(f"{cell.closed_agree_pct:.2f}")
        out.add_row(*row)
    return out


def summary(bench: QueryBench) -> str:
    """Geometric mean, worst cell and whether every value agreed, per target."""
    lines = []
    for t in bench.targets:
        if t == "prometheus":
            continue
        worst = bench.worst(t)
        agree = all(c.agree_pct[t] == 100.0 for c in bench.cells)
        lines.append(
            f"{t}: geomean {bench.geomean(t):.2f}x Prometheus, worst cell {worst.name} "
            f"{worst.range} {worst.ratio(t):.2f}x; values agree on every cell: "
            f"{'yes' if agree else 'no'}"
        )
    if any(c.closed_agree_pct is not None for c in bench.cells):
        ok = all(c.closed_agree_pct == 100.0 for c in bench.cells)
        lines.append(
            "openmanager with Prometheus 2 windows (closed [t-r, t]) vs Prometheus 2.42: values "
            f"agree on every cell: {'yes' if ok else 'no'}"
        )
    return "\n".join(lines)
