"""Forecasting: robust trend and seasonal forecasters chosen by backtest, with intervals."""

from openmanager.analytics.forecast.errors import (
    CounterResets,
    ForecastError,
    InsufficientHistory,
    NonFiniteValues,
    SeriesGaps,
)
from openmanager.analytics.forecast.forecaster import forecast, forecast_prepared
from openmanager.analytics.forecast.types import Decomposition, Forecast, Prepared

__all__ = [
    "CounterResets",
    "Decomposition",
    "Forecast",
    "ForecastError",
    "InsufficientHistory",
    "NonFiniteValues",
    "Prepared",
    "SeriesGaps",
    "forecast",
    "forecast_prepared",
]
