"""Errors raised while evaluating a well-formed query (Prometheus's `execution` error type)."""

from __future__ import annotations

from openmanager.errors import InvalidInput, Unavailable


class QueryExecutionError(InvalidInput):
    """The query parsed but cannot be evaluated on this data (e.g. many-to-many matching)."""

    status_code = 422
    error_type = "execution"


class QueryTimeout(Unavailable):
    """Evaluation ran past the query's deadline."""

    error_type = "timeout"


class TooManySamples(QueryExecutionError):
    """The query would load more samples than the engine's limit allows."""
