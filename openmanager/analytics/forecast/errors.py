"""Why a series cannot be forecast: each error names the problem and what would fix it."""

from __future__ import annotations

from openmanager.errors import InvalidInput


class ForecastError(InvalidInput):
    """A series (or request) that cannot honestly be forecast; the message says why."""


class InsufficientHistory(ForecastError):
    """Too few points, or less history than the horizon or season needs."""


class SeriesGaps(ForecastError):
    """Too much of the window is missing to fill by interpolation."""


class CounterResets(ForecastError):
    """The series is a counter that resets: its rate, not its raw value, is forecastable."""


class NonFiniteValues(ForecastError):
    """The series holds +Inf or -Inf values."""
