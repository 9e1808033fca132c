"""`openmanager rules check|test|backtest`: rule files checked, unit-tested and replayed on history."""

from __future__ import annotations

from pathlib import Path

import typer

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
