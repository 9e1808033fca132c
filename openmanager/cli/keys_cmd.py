"""`openmanager keys create|list|revoke`: API keys in the metadata store (the server need not run)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.table import Table

from openmanager.cli.common import ConfigOption, console, err_console, fail, settings_or_exit
from openmanager.errors import OpenManagerError
from openmanager.security.keys import KeyStore
from openmanager.services.platform import open_meta_store
from openmanager.units import parse_duration

app = typer.Typer(
    help="API keys: create (shown once), list and revoke. Roles: viewer, operator, admin.",
    no_args_is_help=True,
)


@contextmanager
def key_store(config: Path | None) -> Iterator[KeyStore]:
    """The key store of the configured metadata store; errors end the command with code 1."""
    settings = settings_or_exit(config)
    try:
        db = open_meta_store(settings)
    except OpenManagerError as exc:
        raise fail(exc) from exc
    try:
        yield KeyStore(db)
    except OpenManagerError as exc:
        raise fail(exc) from exc
    finally:
        db.close()


def _when(ts: float | None) -> str:
    return "" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


@app.command("create")
def create(
    role: str = typer.Option(
        ...,
        "--role",
        "-r",
        help="viewer (reads), operator (writes, silences) or admin (config, models, keys).",
    ),
    name: str = typer.Option("key", "--name", "-n", help="What the key is for."),
    user: str = typer.Option(
        "", "--user", "-u", help="Owning user (see `openmanager users`); caps the role."
    ),
    expires_in: str | None = typer.Option(
        None, "--expires-in", help="Lifetime, e.g. 90d (default: never)."
    ),
    config: Path | None = ConfigOption,
) -> None:
    """Create a key and print it; it is stored hashed and cannot be shown again."""
    with key_store(config) as keys:
        ttl = parse_duration(expires_in) / 1000 if expires_in else None
        secret, info = keys.create(name, role, user=user, ttl_s=ttl)
    err_console.print(
        f"created key {info.id} ({info.role}); store it now, it is not shown again:",
        highlight=False,
    )
    typer.echo(secret)


@app.command("list")
def list_keys(
    as_json: bool = typer.Option(False, "--json", help="JSON instead of a table."),
    config: Path | None = ConfigOption,
) -> None:
    """Every key: id, prefix, role, owner, state (never the secret)."""
    with key_store(config) as keys:
        items = keys.list()
    now = time.time()
    if as_json:
        rows = [{**vars(k), "state": k.state(now)} for k in items]
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("id", "name", "prefix", "role", "user", "created", "expires", "state")
    for k in items:
        table.add_row(
            str(k.id),
            k.name,
            k.prefix,
            k.role,
            k.user,
            _when(k.created_at),
            _when(k.expires_at),
            k.state(now),
        )
    console.print(table)


@app.command("revoke")
def revoke(
    key: str = typer.Argument(..., help="Key id or prefix (from `keys list`)."),
    config: Path | None = ConfigOption,
) -> None:
    """Revoke a key; running servers stop accepting it within security.key_cache_ttl."""
    with key_store(config) as keys:
        info = keys.revoke(key)
    console.print(f"revoked key {info.id} ({info.prefix}…)", highlight=False)
