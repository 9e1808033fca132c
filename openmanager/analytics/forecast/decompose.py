"""Trend / seasonal / residual decomposition for charts, by statsmodels' robust STL."""

from __future__ import annotations

import warnings

import numpy as np
from statsmodels.tsa.seasonal import STL

from openmanager.analytics.forecast.errors import ForecastError, InsufficientHistory
from openmanager.analytics.forecast.forecaster import MIN_SEASONS, SEASONS
from openmanager.analytics.forecast.prepare import human, prepare
from openmanager.analytics.forecast.types import Decomposition
from openmanager.samples import Float64Array, Int64Array


def decompose(
    timestamps: Int64Array,
    values: Float64Array,
    season: str = "daily",
    *,
    step_ms: int | None = None,
    name: str = "",
) -> Decomposition:
    """Split a series into trend, `season` (daily or weekly) and residual with robust STL."""
    if season not in SEASONS:
        raise ForecastError(f"unknown season {season!r}: use daily or weekly")
    prep = prepare(timestamps, values, step_ms, name)
    period_ms = SEASONS[season]
    if period_ms % prep.step_ms:
        raise ForecastError(f"step {human(prep.step_ms)} does not divide a {season} season")
    need = MIN_SEASONS * period_ms
    if prep.span_ms < need:
        raise InsufficientHistory(
            f"needs at least {human(need)} of history for a {season} season; "
            f"have {human(prep.span_ms)}"
        )
    period = period_ms // prep.step_ms
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = STL(prep.values, period=period, robust=True).fit()
    ts = prep.start_ms + prep.step_ms * np.arange(len(prep.values), dtype=np.int64)
    return Decomposition(
        ts,
        prep.values,
        np.asarray(res.trend, dtype=np.float64),
        np.asarray(res.seasonal, dtype=np.float64),
        np.asarray(res.resid, dtype=np.float64),
        period_ms,
    )
