"""Versioned analytics models: what a version holds, and how forecasters and detectors are trained
and validated."""

from openmanager.analytics.models.detector import (
    DETECTOR,
    DetectorSpec,
    Labelled,
    score_detector,
    train_detector,
)
from openmanager.analytics.models.forecaster import (
    FORECASTER,
    ForecasterSpec,
    TrainedModel,
    score_forecaster,
    train_forecaster,
)

__all__ = [
    "DETECTOR",
    "FORECASTER",
    "DetectorSpec",
    "ForecasterSpec",
    "Labelled",
    "TrainedModel",
    "score_detector",
    "score_forecaster",
    "train_detector",
    "train_forecaster",
]
