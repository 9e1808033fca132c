"""Training and validating an anomaly-detector model against labelled faults.

A detector version is one check's detector configuration and alarm threshold. Training streams
the window's series through each candidate configuration (no look-ahead, as in service), turns
flags into events (flags closer than `MERGE_S` are one event) and scores them against the fault
windows of the series' servers: recall (faults with an event), precision (events inside a fault
window + grace) and F1. The window is split in three: the first third only warms the detectors up,
the candidate with the best F1 on the second third is chosen, and the last third, which the choice
did not see, is its validation score.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from openmanager.analytics.detect.registry import create, get
from openmanager.analytics.models.forecaster import TrainedModel
from openmanager.errors import InvalidInput

DETECTOR = "detector"
"""The `kind` of anomaly-detector model versions."""
MERGE_S = 900.0
GRACE_S = 900.0
THRESHOLDS = (0.55, 0.6, 0.65, 0.7, 0.75, 0.8)
PERSIST = (1, 2, 3)
"""Candidate grid: alarm thresholds x persistence (for detectors that take one)."""

Windows = dict[str, list[tuple[float, float]]]
"""Fault windows (start s, end s) per server."""


@dataclass(frozen=True)
class DetectorSpec:
    """Which check a detector model serves: its PromQL, detector name, base settings, threshold."""

    check: str
    expr: str
    detector: str = "server_ensemble"
    settings: dict[str, Any] = field(default_factory=dict)
    threshold: float = 0.65

    def validate(self) -> None:
        """Reject specs that can never train, with the reason."""
        if not self.expr.strip():
            raise InvalidInput("a detector model needs a PromQL expression")
        if not 0 < self.threshold < 1:
            raise InvalidInput(f"threshold must be between 0 and 1, got {self.threshold}")
        get(self.detector).config_class.from_dict(dict(self.settings))

    def candidates(self) -> list[tuple[dict[str, Any], list[float]]]:
        """(settings, thresholds) to try: the base settings with each persistence it accepts; the
        spec's own settings and threshold come first, so they win ties (e.g. no fault found)."""
        fields = {f.name for f in dataclasses.fields(get(self.detector).config_class)}
        thresholds = [self.threshold, *(t for t in THRESHOLDS if t != self.threshold)]
        if "persist" not in fields or "persist" in self.settings:
            return [(dict(self.settings), thresholds)]
        own = get(self.detector).config_class.from_dict(dict(self.settings)).persist  # type: ignore[attr-defined]
        order = [own, *(p for p in PERSIST if p != own)]
        return [({**self.settings, "persist": p}, thresholds) for p in order]


@dataclass(frozen=True)
class Labelled:
    """The training data: values (series x time), timestamps (s), each series' server, faults."""

    values: np.ndarray
    times: np.ndarray
    servers: Sequence[str]
    faults: Windows

    def __post_init__(self) -> None:
        if self.values.ndim != 2 or self.values.shape[1] != len(self.times):
            raise InvalidInput("values must be series x time, one column per timestamp")
        if len(self.times) < 30:
            raise InvalidInput(
                f"the training window holds {len(self.times)} samples; a detector needs at least 30"
            )


def _scores(data: Labelled, detector: str, settings: dict[str, Any]) -> np.ndarray:
    det = create(detector, settings, n_series=data.values.shape[0])
    t = np.broadcast_to(data.times, data.values.shape)
    out: np.ndarray = det.update(data.values, t)
    return out


def _events(flag: np.ndarray, times: np.ndarray) -> list[float]:
    on = times[flag]
    if not len(on):
        return []
    return [float(x) for x in on[np.concatenate(([True], np.diff(on) > MERGE_S))]]


def evaluate(
    data: Labelled, scores: np.ndarray, threshold: float, lo: float, hi: float
) -> dict[str, Any]:
    """Event-level precision, recall and F1 of flags (score >= threshold) in [lo, hi) seconds."""
    inside = (data.times >= lo) & (data.times < hi)
    n_events = hits = n_faults = found = 0
    for i, server in enumerate(data.servers):
        every = [(a, b + GRACE_S) for a, b in data.faults.get(server, [])]
        wins = [(a, b) for a, b in every if lo <= a < hi]
        starts = _events((scores[i] >= threshold) & inside, data.times)
        n_events += len(starts)
        hits += sum(any(a <= e <= b for a, b in every) for e in starts)
        n_faults += len(wins)
        found += sum(any(a <= e <= b for e in starts) for a, b in wins)
    precision = hits / n_events if n_events else None
    recall = found / n_faults if n_faults else None
    f1 = (
        2 * precision * recall / (precision + recall)
        if precision is not None and recall is not None and precision + recall > 0
        else 0.0
        if n_events or n_faults
        else None
    )
    return {
        "precision": None if precision is None else round(precision, 4),
        "recall": None if recall is None else round(recall, 4),
        "f1": None if f1 is None else round(f1, 4),
        "events": n_events,
        "faults": n_faults,
    }


def _thirds(times: np.ndarray) -> tuple[float, float, float]:
    a, b = float(times[0]), float(times[-1]) + 1e-9
    return a + (b - a) / 3, a + 2 * (b - a) / 3, b


def score_detector(
    data: Labelled, detector: str, settings: dict[str, Any], threshold: float
) -> dict[str, Any]:
    """Validation metrics of one configuration: its events over the last third of the window."""
    _, second, end = _thirds(data.times)
    return evaluate(data, _scores(data, detector, settings), threshold, second, end)


def train_detector(data: Labelled, spec: DetectorSpec) -> TrainedModel:
    """Choose settings and threshold by F1 on the middle third, validate on the last third."""
    spec.validate()
    if not any(data.faults.get(s) for s in data.servers):
        raise InvalidInput(
            "no labelled fault touches these series in the training window; a detector is "
            "validated against faults (widen the window or give ground truth)"
        )
    first, second, end = _thirds(data.times)
    best: tuple[float, dict[str, Any], float, np.ndarray] | None = None
    for settings, thresholds in spec.candidates():
        scores = _scores(data, spec.detector, settings)
        for thr in thresholds:
            f1 = evaluate(data, scores, thr, first, second)["f1"] or 0.0
            if best is None or f1 > best[0] + 1e-12:
                best = (f1, settings, thr, scores)
    assert best is not None
    f1_train, settings, thr, scores = best
    metrics = evaluate(data, scores, thr, second, end)
    metrics["f1_tuning"] = round(f1_train, 4)
    params: dict[str, Any] = {
        "check": spec.check,
        "expr": spec.expr,
        "detector": spec.detector,
        "settings": settings,
        "threshold": thr,
        "training_window": {
            "start": float(data.times[0]),
            "end": float(data.times[-1]),
            "tuned_from": first,
            "validated_from": second,
            "step_seconds": float(np.median(np.diff(data.times))) if len(data.times) > 1 else 0,
        },
        "candidates": len(list(itertools.chain.from_iterable(t for _, t in spec.candidates()))),
    }
    return TrainedModel(params, metrics)
