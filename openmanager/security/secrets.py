"""Secrets in configuration: AES-256-GCM tokens `enc:v1:<base64(nonce|ciphertext)>`, redaction.

The 32-byte key comes from the environment (`OPENMANAGER_SECRET_KEY`, base64), never from a file
that also holds the secrets. `reveal` turns a token back into the secret where it is used.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from openmanager.errors import ConfigError

KEY_ENV = "OPENMANAGER_SECRET_KEY"
"""Environment variable holding the base64 AES-256 key."""

PREFIX = "enc:v1:"
REDACTED = "<secret>"
_NONCE_BYTES = 12


def generate_key() -> str:
    """A new random 256-bit key, base64 (what goes in OPENMANAGER_SECRET_KEY)."""
    return base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()


def _key(key_b64: str) -> bytes:
    try:
        key = base64.b64decode(key_b64.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(
            f"{KEY_ENV} is not base64 (make one with `openmanager secrets keygen`)"
        ) from None
    if len(key) != 32:
        raise ConfigError(f"{KEY_ENV} must decode to 32 bytes (AES-256), got {len(key)}")
    return key


def encrypt(plaintext: str, key_b64: str) -> str:
    """The `enc:v1:` token of a secret (random nonce, so equal secrets give different tokens)."""
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(_key(key_b64)).encrypt(nonce, plaintext.encode(), PREFIX.encode())
    return PREFIX + base64.b64encode(nonce + sealed).decode()


def is_encrypted(value: str) -> bool:
    """Whether a configuration value is an `enc:v1:` token."""
    return value.startswith(PREFIX)


def decrypt(token: str, key_b64: str) -> str:
    """The secret inside a token; ConfigError if the key is wrong or the token was altered."""
    try:
        raw = base64.b64decode(token[len(PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError("encrypted secret is not valid base64") from None
    if len(raw) <= _NONCE_BYTES + 16:
        raise ConfigError("encrypted secret is truncated")
    try:
        plain = AESGCM(_key(key_b64)).decrypt(
            raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], PREFIX.encode()
        )
    except InvalidTag:
        raise ConfigError(
            f"encrypted secret does not decrypt with {KEY_ENV} (wrong key or altered value)"
        ) from None
    return plain.decode()


def reveal(value: str, environ: Mapping[str, str] | None = None) -> str:
    """Plain values pass through; `enc:v1:` tokens are decrypted with the key from the environment."""
    if not is_encrypted(value):
        return value
    env = os.environ if environ is None else environ
    key = env.get(KEY_ENV, "")
    if not key:
        raise ConfigError(f"a setting is encrypted but {KEY_ENV} is not set")
    return decrypt(value, key)


SECRET_YAML_KEYS = (
    "auth_password",
    "auth_secret",
    "smtp_auth_password",
    "smtp_auth_secret",
    "api_url",
    "slack_api_url",
    "url",
    "api_key",
    "opsgenie_api_key",
    "victorops_api_key",
    "wechat_api_secret",
    "bot_token",
    "routing_key",
    "service_key",
    "password",
    "bearer_token",
    "credentials",
)
"""Keys whose values Alertmanager itself shows as `<secret>` in its status API."""

_SECRET_LINE = re.compile(
    r"^(?P<lead>\s*(?:-\s+)?(?:" + "|".join(SECRET_YAML_KEYS) + r")\s*:\s*)(?P<value>\S.*?)\s*$",
    re.MULTILINE,
)


def redact_yaml_text(text: str) -> str:
    """A routing file with every secret value replaced by `<secret>` (layout and comments kept)."""
    return _SECRET_LINE.sub(lambda m: m.group("lead") + REDACTED, text)
