"""Prometheus HTTP API parameter parsing: times, durations, series selectors."""

from __future__ import annotations

import math
from datetime import datetime

from openmanager.errors import InvalidInput
from openmanager.promql import ast
from openmanager.promql.parse import MAX_DURATION_MS, parse_expr
from openmanager.tsdb.matchers import Matcher
from openmanager.units import parse_duration

MIN_TIME_MS = -9_223_372_036_854_775 // 1000 * 1000
MAX_TIME_MS = 9_223_372_036_854_775
"""Prometheus's defaults when start/end are omitted (far past and far future)."""


def parse_time(text: str, name: str) -> int:
    """A Prometheus API time (unix seconds, possibly fractional, or RFC 3339) in milliseconds."""
    value = text.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise InvalidInput(
                f"invalid parameter \"{name}\": Invalid time value for '{name}': "
                f'cannot parse "{text}" to a valid timestamp'
            ) from exc
        if stamp.tzinfo is None:
            raise InvalidInput(
                f"invalid parameter \"{name}\": Invalid time value for '{name}': "
                f'cannot parse "{text}" to a valid timestamp'
            ) from None
        return int(round(stamp.timestamp() * 1000))
    if math.isnan(seconds):
        raise InvalidInput(
            f"invalid parameter \"{name}\": Invalid time value for '{name}': "
            f'cannot parse "{text}" to a valid timestamp'
        )
    if math.isinf(seconds):
        return MAX_TIME_MS if seconds > 0 else MIN_TIME_MS
    # Beyond Prometheus's own min/max times the answer is the same (no data): clamp, so
    # evaluation arithmetic stays inside int64.
    return min(max(int(round(seconds * 1000)), MIN_TIME_MS), MAX_TIME_MS)


def parse_step(text: str, name: str = "step") -> int:
    """A duration as float seconds (`15`, `0.5`) or Prometheus text (`15s`, `1m`), in ms.

    Negative numbers parse (the caller says why they are not accepted, as Prometheus does).
    """
    value = text.strip()
    bad = InvalidInput(f'invalid parameter "{name}": cannot parse "{text}" to a valid duration')
    try:
        seconds = float(value)
    except ValueError:
        try:
            ms = parse_duration(value)
        except InvalidInput as exc:
            raise bad from exc
    else:
        if not math.isfinite(seconds):
            raise bad
        ms = int(round(seconds * 1000))
    if abs(ms) > MAX_DURATION_MS:
        raise bad
    return ms


def parse_timeout(text: str | None) -> float | None:
    """The optional `timeout` parameter in seconds (None when absent)."""
    if text is None or text == "":
        return None
    try:
        seconds = float(text)
    except ValueError:
        seconds = parse_step(text, "timeout") / 1000
    if not 0 < seconds < math.inf:
        raise InvalidInput(
            f'invalid parameter "timeout": cannot parse "{text}" to a valid duration'
        )
    return seconds


def parse_query(text: str | None) -> ast.Node:
    """The `query` parameter parsed; errors are worded as Prometheus words them."""
    try:
        return parse_expr(text or "")
    except InvalidInput as exc:
        raise InvalidInput(f'invalid parameter "query": {exc.message}') from exc


def optional_time(text: str | None, name: str, default: int) -> int:
    """`parse_time`, or the default when the parameter is absent."""
    return default if text is None or text == "" else parse_time(text, name)


def parse_selector(text: str) -> list[Matcher]:
    """The matchers of a series selector such as `up{job="x"}` (a `match[]` parameter)."""
    node = parse_expr(text)
    node = ast.unwrap_parens(node)
    if not isinstance(node, ast.VectorSelector):
        raise InvalidInput(f'invalid parameter "match[]": {text!r} is not a series selector')
    return list(node.matchers)
