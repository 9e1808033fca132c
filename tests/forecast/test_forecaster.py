"""Forecasters on series with known truth: accuracy, interval coverage, model choice, refusals."""

from __future__ import annotations

import numpy as np
import pytest

from openmanager.analytics.forecast import (
    CounterResets,
    ForecastError,
    InsufficientHistory,
    NonFiniteValues,
    SeriesGaps,
    forecast,
)
from openmanager.analytics.forecast.decompose import decompose
from openmanager.analytics.forecast.exhaustion import time_to_exhaustion

STEP = 300_000
DAY = 86_400_000
T0 = 1_704_067_200_000  # 2024-01-01T00:00Z, on the 5-minute grid


def _grid(days: float) -> np.ndarray:
    return T0 + STEP * np.arange(int(days * DAY // STEP), dtype=np.int64)


def _daily(t: np.ndarray, slope_per_day: float = 0.0) -> np.ndarray:
    return 50 + 10 * np.sin(2 * np.pi * (t % DAY) / DAY) + slope_per_day * (t - T0) / DAY


def test_seasonal_series_gets_a_seasonal_model_that_beats_the_season_amplitude() -> None:
    t = _grid(14)
    rng = np.random.default_rng(3)
    y = _daily(t, 0.5) + rng.normal(0, 1, len(t))
    fc = forecast(t, y, DAY)
    assert fc.model.startswith("daily")
    truth = _daily(fc.timestamps, 0.5)
    assert np.mean(np.abs(fc.mean - truth)) < 0.5  # noise sd 1, amplitude 10
    assert fc.timestamps[0] == t[-1] + STEP and len(fc.mean) == DAY // STEP
    assert fc.backtests[0].model == fc.model


def test_interval_covers_about_its_level_on_fresh_noise() -> None:
    t = _grid(21)
    rng = np.random.default_rng(5)
    y = _daily(t) + rng.normal(0, 2, len(t))
    n_train = len(t) - DAY // STEP
    fc = forecast(t[:n_train], y[:n_train], DAY, level=0.8)
    actual = y[n_train:]
    inside = np.mean((actual >= fc.lower) & (actual <= fc.upper))
    assert 0.7 <= inside <= 0.9, inside


def test_linear_fill_and_time_to_exhaustion_with_interval() -> None:
    t = _grid(3)
    rng = np.random.default_rng(7)
    per_step = 2.5e7
    y = 3e10 - per_step * np.arange(len(t)) + rng.normal(0, 5e8, len(t))
    fc = forecast(t, y, 3 * DAY)
    assert fc.model in ("linear", "level+trend")
    ex = time_to_exhaustion(fc, float(y[-1]), 0.0)
    expected_s = (3e10 - per_step * (len(t) - 1)) / per_step * STEP / 1000
    assert ex.seconds is not None and abs(ex.seconds - expected_s) < 0.1 * expected_s
    assert ex.lower_seconds is not None and ex.upper_seconds is not None
    assert ex.lower_seconds <= ex.seconds <= ex.upper_seconds
    assert "interval" in ex.describe("/data")


def test_no_exhaustion_when_the_series_does_not_approach_the_threshold() -> None:
    t = _grid(3)
    y = _daily(t) + np.random.default_rng(1).normal(0, 1, len(t))
    ex = time_to_exhaustion(forecast(t, y, DAY), float(y[-1]), 0.0)
    assert ex.seconds is None and "not within" in ex.describe()


def test_constant_series_is_answered_as_constant() -> None:
    t = _grid(2)
    fc = forecast(t, np.full(len(t), 7.0), DAY)
    assert fc.model == "constant" and np.all(fc.mean == 7.0) and np.all(fc.upper == 7.0)
    assert "constant at 7" in fc.notes[-1]
    assert time_to_exhaustion(fc, 7.0, 10.0).seconds is None


def test_too_little_history_for_the_horizon() -> None:
    t = _grid(0.5)
    with pytest.raises(InsufficientHistory, match="needs at least 1d of history"):
        forecast(t, _daily(t), DAY)


def test_too_little_history_for_a_daily_season() -> None:
    t = _grid(1.5)
    with pytest.raises(
        InsufficientHistory, match="needs at least 2d of history for a daily season"
    ):
        forecast(t, _daily(t), 3_600_000, season="daily")
    fc = forecast(t, _daily(t), 3_600_000)  # auto: falls back, and says why
    assert not fc.model.startswith("daily")
    assert any("no daily season" in n for n in fc.notes)


def test_too_few_points() -> None:
    with pytest.raises(InsufficientHistory, match="at least 12"):
        forecast(_grid(1)[:5], np.arange(5.0), STEP)


def test_long_gap_is_refused_short_gaps_are_filled() -> None:
    t = _grid(4)
    y = _daily(t)
    with pytest.raises(SeriesGaps, match="gap of"):
        forecast(np.delete(t, np.s_[300:500]), np.delete(y, np.s_[300:500]), 3_600_000)
    fc = forecast(np.delete(t, np.s_[300:305]), np.delete(y, np.s_[300:305]), 3_600_000)
    assert any("filled 5 missing points" in n for n in fc.notes)


def test_counter_reset_asks_for_the_rate() -> None:
    t = _grid(2)
    c = np.cumsum(np.full(len(t), 10.0))
    c[300:] -= c[299]
    with pytest.raises(CounterResets, match=r"rate\(http_requests_total\[5m\]\)"):
        forecast(t, c, 3_600_000, name="http_requests_total")


def test_infinite_values_and_bad_arguments() -> None:
    t = _grid(2)
    y = _daily(t)
    y[10] = np.inf
    with pytest.raises(NonFiniteValues):
        forecast(t, y, 3_600_000)
    with pytest.raises(ForecastError, match="beyond the 7d maximum"):
        forecast(_grid(9), _daily(_grid(9)), 8 * DAY)
    with pytest.raises(ForecastError, match="unknown season"):
        forecast(t, _daily(t), 3_600_000, season="hourly")


def test_nan_points_count_as_missing() -> None:
    t = _grid(3)
    y = _daily(t)
    y[100:103] = np.nan
    fc = forecast(t, y, 3_600_000)
    assert np.isfinite(fc.mean).all() and any("filled 3" in n for n in fc.notes)


def test_decomposition_parts_sum_to_the_series() -> None:
    t = _grid(4)
    y = _daily(t, 1.0) + np.random.default_rng(2).normal(0, 0.5, len(t))
    d = decompose(t, y)
    assert np.allclose(d.trend + d.seasonal + d.residual, y)
    assert np.ptp(d.seasonal) > 15  # amplitude 10 each way
    with pytest.raises(InsufficientHistory, match="2w of history for a weekly season"):
        decompose(t, y, "weekly")
