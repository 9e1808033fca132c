"""`openmanager config show|validate|export|docs`."""

from __future__ import annotations

import json
from pathlib import Path

import typer
import yaml

from openmanager.cli.common import ConfigOption, console, settings_or_exit
from openmanager.config.docs import settings_markdown

app = typer.Typer(help="Show, validate and export the configuration.", no_args_is_help=True)


@app.command("show")
def show(config: Path | None = ConfigOption, as_json: bool = typer.Option(False, "--json")) -> None:
    """Print the effective configuration (defaults, profile, file and environment merged)."""
    settings = settings_or_exit(config)
    data = settings.to_yaml_dict()
    if as_json:
        console.print_json(json.dumps(data))
    else:
        console.print(yaml.safe_dump(data, sort_keys=False), end="", highlight=False)


@app.command("validate")
def validate(config: Path | None = ConfigOption) -> None:
    """Check a configuration file; exit 2 with the key, value and what is allowed if it is wrong."""
    settings = settings_or_exit(config)
    console.print(f"configuration is valid (profile {settings.profile})")


@app.command("export")
def export(
    config: Path | None = ConfigOption,
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Write to this file instead of stdout."
    ),
) -> None:
    """Write the effective configuration as a YAML file that `--config` accepts."""
    text = yaml.safe_dump(settings_or_exit(config).to_yaml_dict(), sort_keys=False)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        console.print(f"wrote {out}")


@app.command("docs")
def docs() -> None:
    """Print the settings reference as a Markdown table (what the README lists)."""
    typer.echo(settings_markdown(), nl=False)
