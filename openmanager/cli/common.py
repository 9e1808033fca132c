"""Shared CLI plumbing: the --config option, settings loading, and error reporting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from openmanager.config import Settings, load_settings
from openmanager.errors import OpenManagerError

console = Console()
err_console = Console(stderr=True)

ConfigOption = typer.Option(
    None,
    "--config",
    "-c",
    help="YAML configuration file (default: $OPENMANAGER_CONFIG, else built-in defaults).",
    exists=False,
    dir_okay=False,
)


def settings_or_exit(config: Path | None, overrides: dict[str, Any] | None = None) -> Settings:
    """Load settings, or print what is wrong (key, value, what is allowed) and exit 2."""
    try:
        return load_settings(config, overrides)
    except OpenManagerError as exc:
        err_console.print(f"[red]error:[/red] {exc.message}", highlight=False, markup=True)
        raise typer.Exit(2) from exc


def fail(exc: OpenManagerError) -> typer.Exit:
    """Print an error for the user and return the Exit to raise (code 1)."""
    err_console.print(f"[red]error:[/red] {exc.message}", highlight=False)
    return typer.Exit(1)
