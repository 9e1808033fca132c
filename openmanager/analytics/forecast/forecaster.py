"""Forecast a prepared series: pick the candidate with the lowest rolling-origin backtest error.

Each candidate is fitted without the last few horizons of history, then forecasts from every
origin inside that holdout (rolling origin, parameters fixed) and is scored by its mean absolute
error; the winner is refitted on everything, and its holdout errors give the interval.
"""

from __future__ import annotations

import time

import numpy as np

from openmanager.analytics.forecast.errors import ForecastError, InsufficientHistory
from openmanager.analytics.forecast.models import Fitted, Spec, fit, horizons
from openmanager.analytics.forecast.prepare import MIN_POINTS, human, prepare
from openmanager.analytics.forecast.types import Backtest, Forecast, Prepared
from openmanager.samples import Float64Array, Int64Array

DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS
MAX_HORIZON_MS = WEEK_MS
SEASONS = {"daily": DAY_MS, "weekly": WEEK_MS}
SEASON_CHOICES = ("auto", "none", "daily", "weekly")
MIN_SEASONS = 2
"""A season is estimated from at least this many full cycles."""
HOLDOUT_MIN = 288
"""The backtest forecasts from at least this many origins (when the series is long enough)."""
MIN_TRAIN = 24
"""A backtest origin leaves at least this many points to fit on."""


def forecast(
    timestamps: Int64Array,
    values: Float64Array,
    horizon_ms: int,
    *,
    step_ms: int | None = None,
    level: float = 0.8,
    season: str = "auto",
    model: str = "auto",
    name: str = "",
) -> Forecast:
    """Forecast a raw series `horizon_ms` ahead with a central `level` prediction interval."""
    started = time.perf_counter()
    prep = prepare(timestamps, values, step_ms, name)
    out = forecast_prepared(prep, horizon_ms, level=level, season=season, model=model)
    out.fit_seconds = time.perf_counter() - started
    return out


def candidates(prep: Prepared, h: int, season: str) -> tuple[list[Spec], list[str]]:
    """Candidates the history supports, and notes on seasons it does not support yet."""
    if season not in SEASON_CHOICES:
        raise ForecastError(f"unknown season {season!r}: use one of {', '.join(SEASON_CHOICES)}")
    specs = [Spec("linear", linear=True), Spec("level"), Spec("level+trend", trend=True)]
    notes: list[str] = []
    wanted = list(SEASONS) if season == "auto" else [] if season == "none" else [season]
    for sname in wanted:
        period_ms = SEASONS[sname]
        if period_ms % prep.step_ms:
            msg = f"step {human(prep.step_ms)} does not divide a {sname} season"
            if season != "auto":
                raise ForecastError(msg)
            continue
        need = MIN_SEASONS * period_ms
        if prep.span_ms < need:
            msg = (
                f"needs at least {human(need)} of history for a {sname} season; "
                f"have {human(prep.span_ms)}"
            )
            if season != "auto":
                raise InsufficientHistory(msg)
            notes.append(f"no {sname} season: {msg}")
            continue
        p = period_ms // prep.step_ms
        specs += [Spec(sname, period=p), Spec(f"{sname}+trend", period=p, trend=True)]
    if season != "auto" and season != "none":
        specs = [s for s in specs if s.period]
    return specs, notes


def forecast_prepared(
    prep: Prepared,
    horizon_ms: int,
    *,
    level: float = 0.8,
    season: str = "auto",
    model: str = "auto",
) -> Forecast:
    """The forecast of an already prepared series (see `forecast`)."""
    if not 0 < level < 1:
        raise ForecastError(f"interval level must be between 0 and 1, got {level}")
    if horizon_ms < prep.step_ms:
        raise ForecastError(
            f"horizon {human(horizon_ms)} is shorter than the step {human(prep.step_ms)}"
        )
    if horizon_ms > MAX_HORIZON_MS:
        raise ForecastError(f"horizon {human(horizon_ms)} is beyond the 7d maximum")
    if prep.span_ms < horizon_ms:
        raise InsufficientHistory(
            f"needs at least {human(horizon_ms)} of history to forecast {human(horizon_ms)} "
            f"ahead; have {human(prep.span_ms)}"
        )
    h = horizon_ms // prep.step_ms
    y = prep.values
    if len(y) < MIN_POINTS:
        raise InsufficientHistory(
            f"series has {len(y)} points; a forecast needs at least {MIN_POINTS}"
        )
    notes = list(prep.notes)
    ts = prep.end_ms + prep.step_ms * np.arange(1, h + 1, dtype=np.int64)
    base = Forecast(
        ts, np.zeros(h), np.zeros(h), np.zeros(h), level, "", history_start_ms=prep.start_ms,
        history_end_ms=prep.end_ms, step_ms=prep.step_ms, notes=notes,
    )  # fmt: skip
    spread = float(np.ptp(y))
    if spread <= 1e-12 * max(1.0, abs(float(y[0]))):
        base.model = "constant"
        base.mean = base.lower = base.upper = np.full(h, float(y[-1]))
        notes.append(
            f"the series is constant at {float(y[-1]):g} over its {len(y)} points "
            f"({human(prep.span_ms)}); the forecast is that value, with no spread"
        )
        return base
    specs, season_notes = candidates(prep, h, season)
    notes += season_notes
    if model != "auto":
        specs = [s for s in specs if s.name == model]
        if not specs:
            raise ForecastError(f"model {model!r} is not available for this series and season")
    phase0 = prep.start_ms // prep.step_ms
    hold = holdout_size(len(y), h)
    ks = horizons(h)
    scored: list[tuple[Backtest, Spec, list[Float64Array]]] = []
    for spec in specs:
        result = backtest(y, phase0, spec, h, level, hold, ks)
        if result is not None:
            scored.append((result[0], spec, result[1]))
    if scored:
        _, best, errors = min(scored, key=lambda x: x[0].mae)
        fitted = fit(y, phase0, best, h, level)
        fitted.use_errors(ks, errors, level)
    else:
        best = _default_choice(y, phase0, specs, h, level)
        notes.append(
            f"too little history beyond the horizon for a backtest; chose {best.name} by default"
        )
        fitted = fit(y, phase0, best, h, level)
    return _finish(base, fitted, h, [b for b, _, _ in scored])


def holdout_size(n: int, h: int) -> int:
    """Points at the end kept out of fitting for the backtest: several horizons, <= a third."""
    return min(n // 3, max(3 * h, HOLDOUT_MIN + h))


def backtest(
    y: Float64Array, phase0: int, spec: Spec, h: int, level: float, hold: int, ks: Int64Array
) -> tuple[Backtest, list[Float64Array]] | None:
    """Fit `spec` without the last `hold` points, then forecast from every origin inside them
    (parameters fixed): the mean absolute error over steps 1..h, and the k-step errors."""
    n = len(y)
    train = n - hold
    if hold <= h or train < max(MIN_TRAIN, MIN_SEASONS * spec.period):
        return None
    f = fit(y[:train], phase0, spec, h, level, intervals=False)
    score_ks = np.unique(np.linspace(1, h, min(h, 8)).round().astype(np.int64))
    mae = float(np.mean([np.mean(np.abs(e)) for e in f.holdout_errors(y, phase0, train, score_ks)]))
    return Backtest(spec.name, mae, hold - h), f.holdout_errors(y, phase0, train, ks)


def _default_choice(y: Float64Array, phase0: int, specs: list[Spec], h: int, level: float) -> Spec:
    """Without a backtest: the line if its slope is clearly non-zero, else the smoothed level."""
    by_name = {s.name: s for s in specs}
    if "linear" in by_name:
        line = fit(y, phase0, by_name["linear"], h, level)
        lo, hi = line.params["slope_lo"], line.params["slope_hi"]
        if lo > 0 or hi < 0:
            return by_name["linear"]
    return by_name.get("level", specs[0])


def _finish(base: Forecast, fitted: Fitted, h: int, tests: list[Backtest]) -> Forecast:
    base.model = fitted.spec.name
    base.params = dict(fitted.params)
    if "period_steps" in base.params:
        base.params["period_seconds"] = base.params["period_steps"] * base.step_ms / 1000
    base.backtests = sorted(tests, key=lambda b: b.mae)
    base.mean = fitted.predict(h)
    lo, hi = fitted.bounds(h)
    base.lower = base.mean + lo
    base.upper = base.mean + hi
    return base
