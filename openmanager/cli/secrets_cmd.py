"""`openmanager secrets keygen|encrypt`: AES-256-GCM tokens for secrets in configuration files."""

from __future__ import annotations

import os
import sys

import typer

from openmanager.cli.common import err_console, fail
from openmanager.errors import ConfigError
from openmanager.security.secrets import KEY_ENV, encrypt, generate_key

app = typer.Typer(
    help=f"Encrypted secrets in configuration (key in ${KEY_ENV}).", no_args_is_help=True
)


@app.command("keygen")
def keygen() -> None:
    """Print a new random AES-256 key (base64) to put in $OPENMANAGER_SECRET_KEY."""
    typer.echo(generate_key())


@app.command("encrypt")
def encrypt_cmd() -> None:
    """Read a secret from stdin and print its `enc:v1:` token to paste into a config file."""
    key = os.environ.get(KEY_ENV, "")
    if not key:
        raise fail(ConfigError(f"set {KEY_ENV} first (make one with `openmanager secrets keygen`)"))
    if sys.stdin.isatty():
        err_console.print("secret (then Enter):", end=" ")
    value = sys.stdin.readline().rstrip("\n")
    if not value:
        raise fail(ConfigError("nothing to encrypt: the secret is empty"))
    try:
        typer.echo(encrypt(value, key))
    except ConfigError as exc:
        raise fail(exc) from exc
