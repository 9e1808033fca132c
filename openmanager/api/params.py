"""Prometheus HTTP API parameter parsing: times, durations, series selectors."""

from __future__ import annotations

import math
from datetime import datetime

from openmanager.errors import InvalidInput
from openmanager.promql import ast
from openmanager.promql.parse import parse_expr
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
                f'invalid parameter "{name}": cannot parse "{text}" to a valid timestamp'
            ) from exc
        if stamp.tzinfo is None:
            raise InvalidInput(
                f'invalid parameter "{name}": timestamp "{text}" has no time zone'
            ) from None
        return int(round(stamp.timestamp() * 1000))
    if not math.isfinite(seconds):
        raise InvalidInput(
            f'invalid parameter "{name}": cannot parse "{text}" to a valid timestamp'
        )
    return int(round(seconds * 1000))


def parse_step(text: str, name: str = "step") -> int:
    """A duration as float seconds (`15`, `0.5`) or Prometheus text (`15s`, `1m`), in ms."""
    value = text.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            return parse_duration(value)
        except InvalidInput as exc:
            raise InvalidInput(
                f'invalid parameter "{name}": cannot parse "{text}" to a valid duration'
            ) from exc
    if not math.isfinite(seconds) or seconds < 0:
        raise InvalidInput(f'invalid parameter "{name}": cannot parse "{text}" to a valid duration')
    return int(round(seconds * 1000))


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
