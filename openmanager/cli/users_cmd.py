"""`openmanager users add|list|disable|enable`: users own API keys and cap their roles."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from openmanager.cli.common import ConfigOption, console
from openmanager.cli.keys_cmd import key_store

app = typer.Typer(
    help="Users: owners of API keys; a user's role caps its keys'.", no_args_is_help=True
)


@app.command("add")
def add(
    name: str = typer.Argument(..., help="User name."),
    role: str = typer.Option(..., "--role", "-r", help="viewer, operator or admin."),
    config: Path | None = ConfigOption,
) -> None:
    """Add a user."""
    with key_store(config) as keys:
        keys.add_user(name, role)
    console.print(f"added user {name} ({role})", highlight=False)


@app.command("list")
def list_users(
    as_json: bool = typer.Option(False, "--json", help="JSON instead of a table."),
    config: Path | None = ConfigOption,
) -> None:
    """Every user with role and state."""
    with key_store(config) as keys:
        users = keys.users()
    if as_json:
        typer.echo(json.dumps(users, indent=2))
        return
    table = Table("name", "role", "state")
    for u in users:
        table.add_row(str(u["name"]), str(u["role"]), "disabled" if u["disabled"] else "active")
    console.print(table)


@app.command("disable")
def disable(
    name: str = typer.Argument(..., help="User name."), config: Path | None = ConfigOption
) -> None:
    """Disable a user: all of its keys stop working."""
    with key_store(config) as keys:
        keys.set_user_disabled(name, True)
    console.print(f"disabled user {name}", highlight=False)


@app.command("enable")
def enable(
    name: str = typer.Argument(..., help="User name."), config: Path | None = ConfigOption
) -> None:
    """Enable a disabled user again."""
    with key_store(config) as keys:
        keys.set_user_disabled(name, False)
    console.print(f"enabled user {name}", highlight=False)
