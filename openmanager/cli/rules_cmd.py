"""`openmanager rules check|test|backtest`: rule files checked, unit-tested and replayed on history."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from openmanager.cli.common import ConfigOption, console, err_console, fail, settings_or_exit
from openmanager.rules.rulefile import RuleFileInvalid, parse_rule_file

app = typer.Typer(help="Prometheus alerting/recording rule files: check, test, backtest.")


@app.command("check")
def check(files: list[Path] = typer.Argument(..., help="Rule files to validate.")) -> None:
    """Validate rule files as `promtool check rules` does (exit 1 if any is invalid)."""
    failed = False
    for path in files:
        typer.echo(f"Checking {path}")
        try:
            groups = parse_rule_file(path)
        except RuleFileInvalid as exc:
            failed = True
            typer.echo(f"  FAILED:\n{len(exc.problems)} error(s) found:")
            for p in exc.problems:
                typer.echo(str(p))
            typer.echo("")
            continue
        n = sum(len(g.rules) for g in groups)
        typer.echo(f"  SUCCESS: {n} rules found\n")
    if failed:
        raise typer.Exit(1)


@app.command("test")
def test(files: list[Path] = typer.Argument(..., help="promtool rule unit-test files.")) -> None:
    """Run Prometheus rule unit tests (the `promtool test rules` format); exit 1 on failure."""
    from openmanager.rules.unittest import run_test_file

    failed = False
    for path in files:
        typer.echo(f"Unit Testing:  {path}")
        outcome = run_test_file(path)
        if outcome.error is not None:
            typer.echo(f"  FAILED:\n{outcome.error}\n")
            failed = True
        elif outcome.failures:
            typer.echo("  FAILED:")
            for f in outcome.failures:
                typer.echo(f)
            typer.echo("")
            failed = True
        else:
            typer.echo("  SUCCESS\n")
    if failed:
        raise typer.Exit(1)


@app.command("backtest")
def backtest(
    files: list[Path] = typer.Argument(..., help="Rule files to replay."),
    since: str = typer.Option("7d", help="How far back from --until to replay (e.g. 6h, 7d)."),
    until: str | None = typer.Option(
        None, help="End of the replay (unix seconds or RFC 3339); default now."
    ),
    ground_truth: Path | None = typer.Option(
        None, "--ground-truth", help="Simulator ground-truth JSON to score fault coverage against."
    ),
    simulated: bool = typer.Option(
        False, "--simulated", help="Score against the configured simulator's own fault schedule."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the full report as JSON."),
    config: Path | None = ConfigOption,
) -> None:
    """Replay rule files over stored history: when alerts would fire, notifications, faults caught."""
    import json
    import time

    from openmanager.api.params import parse_time
    from openmanager.errors import OpenManagerError
    from openmanager.rules.backtest import run_backtest
    from openmanager.rules.rulefile import load_rule_files
    from openmanager.simulate import GroundTruth, Simulator
    from openmanager.tsdb.factory import open_storage
    from openmanager.units import parse_duration

    settings = settings_or_exit(config)
    try:
        specs = load_rule_files([str(f) for f in files])
        end_ms = parse_time(until, "until") if until else int(time.time() * 1000)
        start_ms = end_ms - parse_duration(since)
        faults: list[Any] = []
        if ground_truth is not None:
            gt = GroundTruth.from_json(ground_truth.read_text(encoding="utf-8"))
            faults = [f for f in gt.faults if f.start_ms <= end_ms and f.end_ms > start_ms]
        elif simulated:
            faults = Simulator(settings.simulator, start_ms=start_ms).faults_between(
                start_ms, end_ms
            )
        storage = open_storage(settings.storage)
        try:
            report = run_backtest(
                specs,
                storage,
                start_ms,
                end_ms,
                parse_duration(settings.rules.evaluation_interval),
                faults=faults,
            )
        finally:
            storage.close()
    except RuleFileInvalid as exc:
        for p in exc.problems:
            err_console.print(str(p), highlight=False, markup=False)
        raise typer.Exit(1) from exc
    except OpenManagerError as exc:
        raise fail(exc) from exc
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=1))
        return
    _print_report(report)


def _print_report(report: Any) -> None:
    from rich.table import Table

    from openmanager.simulate.faults import iso

    data = report.to_dict()
    console.print(
        f"Replayed {iso(report.start_ms)} .. {iso(report.end_ms)}: {data['evaluations']} rule "
        f"evaluations, {data['alerts_fired']} alerts fired, {data['notifications']} notifications"
    )
    t = Table("alert", "labels", "fired", "resolved", "notifications")
    for e in report.episodes:
        labels = ", ".join(f"{k}={v}" for k, v in e.labels if k != "alertname")
        resolved = iso(e.end_ms) if e.end_ms is not None else "still firing"
        t.add_row(e.rule, labels, iso(e.fired_ms), resolved, str(e.notifications))
    console.print(t)
    if report.faults:
        ft = Table("fault", "scenario", "servers", "start", "caught by", "delay")
        for f in report.faults:
            delay = f"{f.delay_ms / 60000:.1f} min" if f.delay_ms is not None else "-"
            ft.add_row(
                f.fault_id,
                f.scenario,
                ",".join(f.servers),
                iso(f.start_ms),
                f.caught_by or "missed",
                delay,
            )
        console.print(ft)
        console.print(f"Faults caught: {data['faults_caught']} of {data['faults_total']}")
    for err in report.errors[:20]:
        err_console.print(f"error: {err}", highlight=False, markup=False)
