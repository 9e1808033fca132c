"""Isolation Forest on windowed features, one model shared by all series (features are standardised).

Features per sample: robust z of the value, of its first difference and of its deviation from a
short moving average. Standardising per series lets a single forest score 10,000 series at once;
the forest is refitted on a reservoir of recent feature rows every ``refit_every`` samples.
With ``group`` > 1, consecutive series form one server and the forest sees their features side
by side (multivariate per server); every series of a group gets the group's score.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.ensemble import IsolationForest  # type: ignore[import-untyped]

from openmanager.analytics.detect.base import BoolArray, Detector, FloatArray
from openmanager.analytics.detect.robust import RobustZConfig
from openmanager.analytics.detect.stats import robust_step
from openmanager.errors import InvalidInput


@dataclass(frozen=True)
class IsolationForestConfig(RobustZConfig):
    """Forest size, reservoir, refit cadence, short window and series per group."""

    trees: int = 50
    reservoir: int = 4096
    refit_every: int = 256
    short_window: int = 6
    group: int = 1
    seed: int = 0
    warmup: int = 64
    z_half: float = 0.25

    def validate(self) -> None:
        """Reject out-of-range values."""
        super().validate()
        if self.trees < 1 or self.reservoir < 16 or self.refit_every < 1 or self.group < 1:
            raise InvalidInput("isolation_forest: trees, reservoir, refit_every, group too small")


class IsolationForestDetector(Detector):
    """Raw strength: how much shorter than average the sample's isolation path is (0 = normal)."""

    name = "isolation_forest"
    config_class = IsolationForestConfig
    config: IsolationForestConfig

    def _init_state(self) -> None:
        cfg = self.config
        if self.n_series % cfg.group:
            raise InvalidInput(f"n_series {self.n_series} is not a multiple of group {cfg.group}")
        for key in ("c0", "s0", "a0", "r0", "c1", "s1", "a1", "r1", "prev", "ma"):
            self._zeros(key)
        self.state["steps"] = np.zeros(1)
        self._pending: list[NDArray[np.float64]] = []
        self._rows: NDArray[np.float64] = np.empty((0, 3 * cfg.group))
        self._forest: IsolationForest | None = None
        self._offset = 0.0

    def _features(self, x: FloatArray, ok: BoolArray) -> NDArray[np.float64]:
        s, p = self.state, self.config.params()
        z0, s["c0"], s["s0"], s["a0"], s["r0"], _ = robust_step(
            s["c0"], s["s0"], s["a0"], s["r0"], x, ok, p
        )
        d = np.where(s["a0"] > 1, x - s["prev"], 0.0)
        z1, s["c1"], s["s1"], s["a1"], s["r1"], _ = robust_step(
            s["c1"], s["s1"], s["a1"], s["r1"], d, ok, p
        )
        k = 2.0 / (self.config.short_window + 1)
        s["ma"] = np.where(ok, np.where(s["a0"] > 1, s["ma"] + k * (x - s["ma"]), x), s["ma"])
        s["prev"] = np.where(ok, x, s["prev"])
        z2 = (x - s["ma"]) / np.maximum(1.4826 * s["s0"], 1e-9)
        f = np.stack([z0, z1, z2], axis=1)
        f = np.clip(np.nan_to_num(f), -50.0, 50.0)
        rows: NDArray[np.float64] = f.reshape(self.n_series // self.config.group, -1)
        return rows

    def _update(self, x: FloatArray, t: FloatArray, ok: BoolArray) -> FloatArray:
        cfg = self.config
        feats = self._features(x, ok)
        self._absorb(feats)
        if self._forest is None:
            return np.zeros(self.n_series)
        path = -np.asarray(self._forest.score_samples(feats), dtype=np.float64)  # 0.5 normal
        raw = np.maximum(path - self._offset, 0.0)
        out: FloatArray = np.repeat(raw, cfg.group)
        return out

    def _absorb(self, feats: NDArray[np.float64]) -> None:
        cfg = self.config
        self._pending.append(feats)
        self.state["steps"] += 1
        first = self._forest is None and int(self.state["steps"][0]) >= cfg.warmup
        if len(self._pending) >= cfg.refit_every or first:
            rows = np.concatenate([self._rows, *self._pending])
            self._pending = []
            rng = np.random.default_rng(cfg.seed + int(self.state["steps"][0]))
            if len(rows) > cfg.reservoir:
                rows = rows[rng.choice(len(rows), cfg.reservoir, replace=False)]
            self._rows = rows
            if int(self.state["steps"][0]) >= cfg.warmup:
                self._forest = IsolationForest(
                    n_estimators=cfg.trees, max_samples=min(256, len(rows)), random_state=cfg.seed
                ).fit(rows)
                self._offset = float(np.median(-self._forest.score_samples(rows)))

    def state_dict(self) -> dict[str, NDArray[Any]]:
        """State arrays plus the reservoir (the forest is refitted from it on load)."""
        out = super().state_dict()
        out["reservoir"] = self._rows
        return out

    def load_state(self, arrays: dict[str, NDArray[Any]]) -> None:
        """Restore state and refit the forest from the saved reservoir."""
        super().load_state(arrays)
        self._rows = np.asarray(arrays["reservoir"])
        if len(self._rows) >= 16:
            cfg = self.config
            self._forest = IsolationForest(
                n_estimators=cfg.trees, max_samples=min(256, len(self._rows)), random_state=cfg.seed
            ).fit(self._rows)
            self._offset = float(np.median(-self._forest.score_samples(self._rows)))
