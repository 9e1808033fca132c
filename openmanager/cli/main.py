"""The `openmanager` command: each sub-command lives in its own module and is registered here."""

from __future__ import annotations

import typer

from openmanager import __version__
from openmanager.cli import (
    agent_cmd,
    anomalies_cmd,
    ask_cmd,
    bench_cmd,
    config_cmd,
    detect_cmd,
    forecast_cmd,
    incidents_cmd,
    keys_cmd,
    logs_cmd,
    models_cmd,
    query_cmd,
    risk_cmd,
    rules_cmd,
    scale_cmd,
    secrets_cmd,
    serve_cmd,
    silence_cmd,
    simulate_cmd,
    tsdb_cmd,
    users_cmd,
)

app = typer.Typer(
    name="openmanager",
    help="OpenManager: server monitoring with an embedded TSDB, PromQL, alerts and analytics.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(config_cmd.app, name="config")
app.command("serve")(serve_cmd.serve)
app.command("agent")(agent_cmd.agent)
app.command("simulate")(simulate_cmd.simulate)
app.command("query")(query_cmd.query)
app.command("logs")(logs_cmd.logs)
app.command("detect")(detect_cmd.detect)
app.command("forecast")(forecast_cmd.forecast)
app.command("risk")(risk_cmd.risk)
app.command("ask")(ask_cmd.ask)
app.add_typer(scale_cmd.app, name="scale")
app.add_typer(models_cmd.app, name="models")
app.command("backfill")(tsdb_cmd.backfill)
app.command("export")(tsdb_cmd.export)
app.add_typer(tsdb_cmd.app, name="tsdb")
app.add_typer(rules_cmd.app, name="rules")
app.add_typer(silence_cmd.app, name="silence")
app.add_typer(incidents_cmd.app, name="incidents")
app.add_typer(anomalies_cmd.app, name="anomalies")
app.add_typer(bench_cmd.app, name="bench")
app.add_typer(keys_cmd.app, name="keys")
app.add_typer(users_cmd.app, name="users")
app.add_typer(secrets_cmd.app, name="secrets")


@app.command("version")
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


if __name__ == "__main__":
    app()
