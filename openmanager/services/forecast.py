"""Forecasts and time to exhaustion for PromQL expressions, and the fleet exhaustion job.

Reads through the query engine like every consumer; each result series is forecast on its own,
so one series that cannot be forecast (a gap, a counter reset) gets its reason, not a failure.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from openmanager.analytics.forecast import ForecastError, forecast
from openmanager.analytics.forecast.decompose import decompose
from openmanager.analytics.forecast.exhaustion import Exhaustion, time_to_exhaustion
from openmanager.analytics.forecast.forecaster import MAX_HORIZON_MS
from openmanager.analytics.forecast.prepare import human
from openmanager.analytics.forecast.types import Decomposition, Forecast
from openmanager.errors import InvalidInput, NotFound
from openmanager.samples import Labels, labels_get, make_labels
from openmanager.services.gauges import write_gauge
from openmanager.services.query import QueryService
from openmanager.tsdb.storage import Storage

log = logging.getLogger(__name__)

STEPS_MS = (15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000)
MAX_POINTS = 5_000
"""History points per series a forecast reads at most (the step grows to stay under it)."""
MIN_HISTORY_MS = 8 * 86_400_000
"""Default history: enough for a daily season (2 days) with room for its backtests."""
MAX_HISTORY_MS = 28 * 86_400_000
EXHAUSTION_METRIC = "openmanager_forecast_exhaustion_seconds"
EXHAUSTION_INTERVAL_S = 300.0
FORECASTS_CHANNEL = "forecasts"
"""Bus channel of the exhaustion job's results."""

FLEET_RESOURCES = (
    ("disk", 'node_filesystem_avail_bytes{job="node"}', 0.0),
    ("memory", 'node_memory_MemAvailable_bytes{job="node"}', 0.0),
)
"""(resource, expression, threshold) the exhaustion job forecasts for every server."""


@dataclass
class SeriesForecast:
    """One result series: its forecast (and exhaustion if asked), or why it has none."""

    labels: Labels
    last_value: float | None
    forecast: Forecast | None = None
    exhaustion: Exhaustion | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Prometheus-like JSON: `metric` labels plus the forecast or the error."""
        out: dict[str, Any] = {"metric": dict(self.labels), "last_value": self.last_value}
        if self.forecast is not None:
            out["forecast"] = self.forecast.to_dict()
        if self.exhaustion is not None:
            out["exhaustion"] = self.exhaustion.to_dict()
            out["exhaustion"]["summary"] = self.exhaustion.describe(describe_series(self.labels))
        if self.error is not None:
            out["error"] = self.error
        return out


def describe_series(labels: Labels) -> str:
    """Short human name of a series: "/data on db-primary-01" or the metric with its server."""
    mount, server = labels_get(labels, "mountpoint"), labels_get(labels, "server")
    server = server or labels_get(labels, "instance")
    name = labels_get(labels, "__name__")
    what = mount or name or "series"
    return f"{what} on {server}" if server else what


def choose_window(horizon_ms: int, history_ms: int | None, step_ms: int | None) -> tuple[int, int]:
    """(history, step): a history several horizons long, a step keeping it under MAX_POINTS."""
    if horizon_ms <= 0 or horizon_ms > MAX_HORIZON_MS:
        raise InvalidInput(f"horizon must be between 1s and 7d, got {human(horizon_ms)}")
    history = history_ms or min(MAX_HISTORY_MS, max(MIN_HISTORY_MS, 3 * horizon_ms))
    if step_ms:
        return history, step_ms
    fits = [s for s in STEPS_MS if s * 4 <= horizon_ms] or [STEPS_MS[0]]
    for s in fits:
        if history // s <= MAX_POINTS:
            return history, s
    step = fits[-1]
    return (history if history_ms else min(history, step * MAX_POINTS)), step


class ForecastService:
    """Forecasts over the query engine; optionally writes exhaustion series into storage."""

    def __init__(
        self,
        queries: QueryService,
        storage: Storage | None = None,
        clock: Callable[[], float] = time.time,
        publish: Callable[[str, dict[str, Any]], object] | None = None,
    ) -> None:
        self.queries = queries
        self.storage = storage
        self.clock = clock
        self.publish = publish
        """When set, the exhaustion job publishes what runs out within the horizon on `forecasts`."""

    def _history(
        self, expr: str, horizon_ms: int, history_ms: int | None, step_ms: int | None,
        at_ms: int | None,
    ) -> tuple[list[tuple[Labels, np.ndarray, np.ndarray]], int]:  # fmt: skip
        history, step = choose_window(horizon_ms, history_ms, step_ms)
        end = int(self.clock() * 1000) if at_ms is None else at_ms
        end -= end % step
        result = self.queries.range(expr, end - history, end, step)
        if not result.series:
            raise NotFound(
                f"{expr} returned no series in the last {human(history)} (before t={end / 1000:.0f})"
            )
        return [(s.labels, s.timestamps, s.values) for s in result.series], step

    def forecast(
        self,
        expr: str,
        horizon_ms: int,
        *,
        history_ms: int | None = None,
        step_ms: int | None = None,
        level: float = 0.8,
        season: str = "auto",
        threshold: float | None = None,
        direction: str = "auto",
        at_ms: int | None = None,
    ) -> list[SeriesForecast]:
        """Forecast every series of `expr`; with `threshold`, also its time to exhaustion."""
        rows, step = self._history(expr, horizon_ms, history_ms, step_ms, at_ms)
        out = []
        for labels, ts, vs in rows:
            last = float(vs[-1]) if len(vs) else None
            item = SeriesForecast(labels, last)
            try:
                fc = forecast(
                    ts, vs, horizon_ms, step_ms=step, level=level, season=season,
                    name=labels_get(labels, "__name__"),
                )  # fmt: skip
                item.forecast = fc
                if threshold is not None and last is not None:
                    item.exhaustion = time_to_exhaustion(fc, last, threshold, direction)
            except ForecastError as exc:
                item.error = exc.message
            out.append(item)
        return out

    def decompose(
        self,
        expr: str,
        season: str = "daily",
        *,
        history_ms: int | None = None,
        step_ms: int | None = None,
        at_ms: int | None = None,
    ) -> list[tuple[Labels, Decomposition | str]]:
        """Trend/seasonal/residual of every series of `expr` (or why not) for charts."""
        period = 86_400_000 if season == "daily" else 7 * 86_400_000
        history = history_ms or min(MAX_HISTORY_MS, 4 * period)
        step = step_ms or next(s for s in STEPS_MS if history // s <= MAX_POINTS)
        rows, step = self._history(expr, 3_600_000, history, step, at_ms)
        out: list[tuple[Labels, Decomposition | str]] = []
        for labels, ts, vs in rows:
            try:
                out.append((labels, decompose(ts, vs, season, step_ms=step)))
            except ForecastError as exc:
                out.append((labels, exc.message))
        return out

    def fleet_exhaustion(self, horizon_ms: int = MAX_HORIZON_MS) -> list[SeriesForecast]:
        """Time to exhaustion of every server's filesystems and memory (each with its resource)."""
        out: list[SeriesForecast] = []
        for resource, expr, threshold in FLEET_RESOURCES:
            try:
                rows, step = self._history(expr, horizon_ms, None, None, None)
            except NotFound:
                continue
            for labels, ts, vs in rows:
                item = SeriesForecast(labels + (("resource", resource),), float(vs[-1]))
                span = (int(ts[-1]) - int(ts[0])) + step if len(ts) else 0
                h = min(horizon_ms, span - span % step)
                try:
                    fc = forecast(ts, vs, h, step_ms=step, season="auto")
                    item.forecast = fc
                    item.exhaustion = time_to_exhaustion(fc, float(vs[-1]), threshold, "down")
                except ForecastError as exc:
                    item.error = exc.message
                out.append(item)
        return out

    def write_exhaustion(self) -> None:
        """Scheduler job: store `openmanager_forecast_exhaustion_seconds` for the fleet.

        One series per resource and bound (estimate, lower, upper); +Inf when the threshold is
        not reached within the horizon, so `< 86400` alert rules simply do not match.
        """
        if self.storage is None:
            raise InvalidInput("the exhaustion job needs a storage to write to")
        now = int(self.clock() * 1000)
        labels: list[Labels] = []
        values: list[float] = []
        items = self.fleet_exhaustion()
        for item in items:
            ex = item.exhaustion
            if ex is None:
                continue
            base = [(k, v) for k, v in item.labels if k != "__name__"]
            for bound, v in (
                ("estimate", ex.seconds), ("lower", ex.lower_seconds), ("upper", ex.upper_seconds),
            ):  # fmt: skip
                labels.append(make_labels(EXHAUSTION_METRIC, [*base, ("bound", bound)]))
                values.append(math.inf if v is None else float(v))
        write_gauge(
            self.storage, EXHAUSTION_METRIC,
            "Seconds until a resource reaches its threshold (forecast).",
            labels, values, now, log, "exhaustion job",
        )  # fmt: skip
        if self.publish is not None:
            running_out = [
                i.to_dict() for i in items if i.exhaustion and i.exhaustion.seconds is not None
            ]
            for d in running_out:
                d.pop("forecast", None)  # the points stay in the API; the event says what and when
            self.publish(FORECASTS_CHANNEL, {"time_ms": now, "exhaustion": running_out})
