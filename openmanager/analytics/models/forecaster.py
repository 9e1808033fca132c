"""Training and validating a forecaster model: the model choice is made on the training part of
the window, and the validation score is its error over the last `horizon` it did not see.

Validation is MASE against the naive (last value) forecast over the same holdout, so scores of
versions trained on different windows are comparable, plus the interval coverage. To decide a
promotion fairly, `score_forecaster` re-scores any version's model choice on one shared window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from openmanager.analytics.forecast import ForecastError, Prepared, forecast_prepared
from openmanager.analytics.forecast.forecaster import SEASON_CHOICES
from openmanager.errors import InvalidInput

FORECASTER = "forecaster"
"""The `kind` of forecaster model versions."""


@dataclass(frozen=True)
class ForecasterSpec:
    """What to forecast and how far: a PromQL expression, horizon, season and interval level."""

    expr: str
    horizon_ms: int
    season: str = "auto"
    level: float = 0.8

    def validate(self) -> None:
        """Reject specs that can never train, with the reason."""
        if not self.expr.strip():
            raise InvalidInput("a forecaster model needs a PromQL expression")
        if self.horizon_ms <= 0:
            raise InvalidInput("horizon must be positive")
        if self.season not in SEASON_CHOICES:
            raise InvalidInput(f"season must be one of {', '.join(SEASON_CHOICES)}")
        if not 0 < self.level < 1:
            raise InvalidInput(f"interval level must be between 0 and 1, got {self.level}")


@dataclass
class TrainedModel:
    """One trained version before it is stored: parameters (incl. the training window) and scores."""

    params: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)


def _split(prep: Prepared, horizon_ms: int) -> tuple[Prepared, np.ndarray]:
    h = horizon_ms // prep.step_ms
    if h < 1 or len(prep.values) <= h:
        raise InvalidInput(
            f"the training window ({len(prep.values)} points) must be longer than the horizon "
            f"({max(h, 1)} points at this step)"
        )
    train = Prepared(prep.start_ms, prep.step_ms, prep.values[:-h], prep.filled, prep.notes)
    return train, prep.values[-h:]


def score_forecaster(
    prep: Prepared, spec: ForecasterSpec, model: str = "auto"
) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """(validation metrics, chosen model, its fitted params) of `model` on `prep`: fitted on all
    but the last horizon, scored on that horizon."""
    train, actual = _split(prep, spec.horizon_ms)
    try:
        fc = forecast_prepared(
            train, spec.horizon_ms, level=spec.level, season=spec.season, model=model
        )
    except ForecastError as exc:
        raise InvalidInput(f"cannot train on this window: {exc.message}") from exc
    err = np.abs(actual - fc.mean)
    naive = np.abs(actual - train.values[-1])
    scale = float(np.mean(naive))
    mae = float(np.mean(err))
    metrics: dict[str, Any] = {
        "mae": round(mae, 6),
        "mase": round(mae / scale, 4) if scale > 0 else (0.0 if mae == 0 else None),
        "coverage": round(float(np.mean((actual >= fc.lower) & (actual <= fc.upper))), 4),
        "holdout_points": int(len(actual)),
    }
    return metrics, fc.model, dict(fc.params)


def train_forecaster(prep: Prepared, spec: ForecasterSpec) -> TrainedModel:
    """Choose and fit the forecaster on the window, score it on the holdout at its end."""
    spec.validate()
    metrics, chosen, fitted = score_forecaster(prep, spec)
    params: dict[str, Any] = {
        "expr": spec.expr,
        "horizon_seconds": spec.horizon_ms / 1000,
        "season": spec.season,
        "level": spec.level,
        "model": chosen,
        "fitted": {k: v for k, v in fitted.items() if isinstance(v, int | float | str)},
        "training_window": {
            "start": prep.start_ms / 1000,
            "end": prep.end_ms / 1000,
            "step_seconds": prep.step_ms / 1000,
        },
    }
    return TrainedModel(params, metrics)
