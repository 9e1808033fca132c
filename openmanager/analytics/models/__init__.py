"""Versioned analytics models: what a version holds, and how a forecaster is trained and validated."""

from openmanager.analytics.models.forecaster import (
    FORECASTER,
    ForecasterSpec,
    TrainedModel,
    score_forecaster,
    train_forecaster,
)

__all__ = ["FORECASTER", "ForecasterSpec", "TrainedModel", "score_forecaster", "train_forecaster"]
