"""The small exception hierarchy every component raises; each carries its HTTP status."""

from __future__ import annotations


class OpenManagerError(Exception):
    """Base of all errors OpenManager raises on purpose."""

    status_code = 500
    error_type = "internal"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(OpenManagerError):
    """The caller sent something malformed or out of range."""

    status_code = 400
    error_type = "bad_data"


class NotFound(OpenManagerError):
    """The thing asked for does not exist."""

    status_code = 404
    error_type = "not_found"


class Conflict(OpenManagerError):
    """The request clashes with what is already stored (e.g. an out-of-order sample)."""

    status_code = 409
    error_type = "conflict"


class Unavailable(OpenManagerError):
    """A dependency (disk, remote store, Redis) cannot serve the request right now."""

    status_code = 503
    error_type = "unavailable"


class ConfigError(InvalidInput):
    """A configuration file or value is invalid; the message names key, value and what is allowed."""
