"""Ensemble: member detectors combined into one calibrated 0-1 score that flags novelty, not repeats."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from openmanager.analytics.detect.base import BoolArray, Detector, FloatArray
from openmanager.analytics.detect.config import DetectorConfig
from openmanager.errors import InvalidInput

_DEFAULT_MEMBERS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("seasonal", {"window": 1000}),
    ("iqr", {"window": 1000}),
)


@dataclass(frozen=True)
class EnsembleConfig(DetectorConfig):
    """Members (name, config), how their strengths combine, and the novelty memory.

    A member's strength is its z-like deviation. The ensemble reports how far the combined
    strength exceeds the largest strengths of the past, floored at ``gate``: the geometric mean
    of the ratios to a short-memory peak (``short_memory`` samples, decaying) and a long one
    (``memory``). A value is anomalous when it is unlike anything seen lately and for long, so
    a regime that persists stops alarming and one threshold means the same on every series.
    """

    members: tuple[tuple[str, dict[str, Any]], ...] = field(default=_DEFAULT_MEMBERS)
    combine: str = "max"
    memory: int = 10000
    short_memory: int = 300
    gate: float = 6.0
    warmup: int = 32

    def validate(self) -> None:
        """Reject out-of-range values."""
        super().validate()
        if not self.members:
            raise InvalidInput("ensemble needs at least one member")
        if self.combine not in ("max", "mean"):
            raise InvalidInput(f"combine must be max or mean, got {self.combine!r}")
        if self.memory < 1 or self.short_memory < 1 or self.gate <= 0:
            raise InvalidInput("memory and short_memory must be >= 1 and gate > 0")


class Ensemble(Detector):
    """Scores 0-1: r/(1+r), r = combined strength over its past peaks (geometric mean of two)."""

    name = "ensemble"
    config_class = EnsembleConfig
    config: EnsembleConfig

    def _init_state(self) -> None:
        from openmanager.analytics.detect.registry import create

        members = [(str(m[0]), dict(m[1])) for m in self.config.members]
        self.children = [create(name, cfg, self.n_series) for name, cfg in members]
        self._zeros("peak")
        self._zeros("short_peak")
        self.agree: list[BoolArray] = []
        self.strengths: list[FloatArray] = []

    def _update(self, x: FloatArray, t: FloatArray, ok: BoolArray) -> FloatArray:
        cfg = self.config
        cols = [child._raw_step(x, t) for child in self.children]
        comb = cols[0]
        for col in cols[1:]:
            comb = np.maximum(comb, col) if cfg.combine == "max" else comb + col
        if cfg.combine == "mean":
            comb = comb / len(cols)
        self.strengths = cols
        st = self.state
        peak, short = st["peak"], st["short_peak"]
        ratio = comb * comb / (np.maximum(peak, cfg.gate) * np.maximum(short, cfg.gate))
        r: FloatArray = np.sqrt(ratio)
        st["peak"] = np.where(ok, np.maximum(peak * (1.0 - 1.0 / cfg.memory), comb), peak)
        st["short_peak"] = np.where(
            ok, np.maximum(short * (1.0 - 1.0 / cfg.short_memory), comb), short
        )
        self.agree = [col >= cfg.gate for col in cols]
        lead = self.children[0]
        self.expected, self.band = lead.expected, lead.band
        return r

    def _score(self, raw: FloatArray) -> FloatArray:
        """Calibrated: 0.5 when the strength equals its past peaks (or the gate)."""
        r = np.maximum(raw, 0.0)
        return r / (1.0 + r)
