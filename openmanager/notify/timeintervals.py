"""Alertmanager `time_intervals`: times of day, weekdays, days of month, months, years, location."""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_WEEKDAYS = {name.lower(): i for i, name in enumerate(calendar.day_name)}  # monday = 0
_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}


class TimeIntervalError(ValueError):
    """A time interval Alertmanager would reject."""


@dataclass(frozen=True)
class TimeInterval:
    """One entry of a named interval; every given field must match (absent = any)."""

    times: tuple[tuple[int, int], ...] = ()  # minutes of day [start, end)
    weekdays: tuple[tuple[int, int], ...] = ()
    days_of_month: tuple[tuple[int, int], ...] = ()
    months: tuple[tuple[int, int], ...] = ()
    years: tuple[tuple[int, int], ...] = ()
    location: ZoneInfo | None = field(default=None, compare=False)

    def contains(self, t: datetime) -> bool:
        """Whether the instant falls inside this interval (in its location, default UTC)."""
        local = t.astimezone(self.location or ZoneInfo("UTC"))
        if self.times:
            minute = local.hour * 60 + local.minute
            if not any(a <= minute < b for a, b in self.times):
                return False
        if self.weekdays and not any(a <= local.weekday() <= b for a, b in self.weekdays):
            return False
        if self.days_of_month:
            last = calendar.monthrange(local.year, local.month)[1]
            ok = False
            for a, b in self.days_of_month:
                lo = a if a > 0 else last + a + 1
                hi = b if b > 0 else last + b + 1
                if max(lo, 1) <= local.day <= min(hi, last):
                    ok = True
            if not ok:
                return False
        if self.months and not any(a <= local.month <= b for a, b in self.months):
            return False
        return not self.years or any(a <= local.year <= b for a, b in self.years)


def in_any(intervals: Sequence[TimeInterval], t: datetime) -> bool:
    """Whether t is inside any of the intervals."""
    return any(i.contains(t) for i in intervals)


def _clock(text: Any) -> int:
    if not isinstance(text, str):
        raise TimeIntervalError(f"couldn't parse timestamp {text!r}, invalid format")
    parts = text.split(":")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise TimeIntervalError(f"couldn't parse timestamp {text}, invalid format")
    h, m = int(parts[0]), int(parts[1])
    if h < 0 or h > 24 or m < 0 or m > 59 or (h == 24 and m != 0):
        raise TimeIntervalError(f"timestamp {text} out of range")
    return h * 60 + m


def _range(text: Any, what: str, names: Mapping[str, int] | None) -> tuple[int, int]:
    """An inclusive `a:b` (or single) range; checks mirror Alertmanager 0.25's own."""
    s = str(text).strip().lower()
    bounds = s.split(":")
    if len(bounds) > 2 or not all(bounds):
        raise TimeIntervalError(f"invalid {what} range {text!r}")

    def one(x: str) -> int:
        if names is not None and x in names:
            return names[x]
        if what == "weekday":
            raise TimeIntervalError(f"{x} is not a valid weekday")
        try:
            v = int(x)
        except ValueError:
            raise TimeIntervalError(f"{x} is not a valid {what}") from None
        if what == "day of month" and (v == 0 or not -31 <= v <= 31):
            raise TimeIntervalError(f"{x} is not a valid day of the month: out of range")
        return v

    a, b = one(bounds[0]), one(bounds[-1])
    if what == "day of month":
        if a < 0 and b > 0:
            raise TimeIntervalError("end day must be negative if start day is negative")
        if (a > 0) == (b > 0) and a > b:
            raise TimeIntervalError(f"end day {b} is always before start day {a}")
    elif a > b:
        raise TimeIntervalError(f"end {what} {bounds[-1]} is before start {what} {bounds[0]}")
    return a, b


def parse_interval(obj: Mapping[str, Any]) -> TimeInterval:
    """One `time_intervals` entry (the inner list item) from YAML data."""
    allowed = {"times", "weekdays", "days_of_month", "months", "years", "location"}
    for key in obj:
        if key not in allowed:
            raise TimeIntervalError(f"field {key} not found in type timeinterval.plain")
    times = []
    for t in obj.get("times") or []:
        if not isinstance(t, Mapping):
            raise TimeIntervalError("times entries need start_time and end_time")
        for key in t:
            if key not in ("start_time", "end_time"):
                raise TimeIntervalError(f"field {key} not found in type timeinterval.TimeRange")
        if "start_time" not in t or "end_time" not in t:
            raise TimeIntervalError("both start and end times must be provided")
        a, b = _clock(t["start_time"]), _clock(t["end_time"])
        if a >= b:
            raise TimeIntervalError("start time cannot be equal or greater than end time")
        times.append((a, b))
    location = None
    if obj.get("location") is not None:
        name = str(obj["location"])
        try:
            location = ZoneInfo("UTC" if name == "Local" else name)
        except (ZoneInfoNotFoundError, ValueError):
            raise TimeIntervalError(f"unknown time zone {name}") from None
    return TimeInterval(
        times=tuple(times),
        weekdays=tuple(_range(x, "weekday", _WEEKDAYS) for x in obj.get("weekdays") or []),
        days_of_month=tuple(
            _range(x, "day of month", None) for x in obj.get("days_of_month") or []
        ),
        months=tuple(_range(x, "month", _MONTHS) for x in obj.get("months") or []),
        years=tuple(_range(x, "year", None) for x in obj.get("years") or []),
        location=location,
    )
