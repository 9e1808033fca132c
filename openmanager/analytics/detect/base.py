"""Detector base class: shapes, NaN/gap handling, warm-up, state, save/load (template method)."""

from __future__ import annotations

import copy
import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import NDArray

from openmanager.analytics.detect.config import DetectorConfig
from openmanager.errors import InvalidInput

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


class Detector(ABC):
    """Streaming anomaly scores in [0, 1] for ``n_series`` series at once.

    Subclasses keep every piece of state as arrays in ``self.state`` and implement
    ``_init_state`` and ``_update`` (score one sample per series, then absorb it);
    ``_score`` maps their raw strength to [0, 1]; ``_fit`` defaults to replaying history.
    """

    name: ClassVar[str] = ""
    config_class: ClassVar[type[DetectorConfig]] = DetectorConfig

    def __init__(self, config: DetectorConfig | None = None, n_series: int = 1) -> None:
        if n_series < 1:
            raise InvalidInput(f"n_series must be >= 1, got {n_series}")
        cfg = config if config is not None else self.config_class()
        if not isinstance(cfg, self.config_class):
            raise InvalidInput(f"{self.name} needs a {self.config_class.__name__}")
        self.config = cfg
        self.n_series = n_series
        self.state: dict[str, NDArray[Any]] = {"n_seen": np.zeros(n_series, np.int64)}
        self.children: list[Detector] = []
        self.expected: FloatArray = np.full(n_series, np.nan)
        self.band: FloatArray = np.full(n_series, np.nan)
        self.last_expected: FloatArray = np.empty((n_series, 0))
        self.last_band: FloatArray = np.empty((n_series, 0))
        self._init_state()
        if cfg.counter:
            self._zeros("prev_x", fill=np.nan)
            self._zeros("prev_t", fill=np.nan)

    # -- what subclasses implement -------------------------------------------------------
    @abstractmethod
    def _init_state(self) -> None:
        """Create the state arrays (one row per series)."""

    @abstractmethod
    def _update(self, x: FloatArray, t: FloatArray, ok: BoolArray) -> FloatArray:
        """Raw strength of x (n_series,) against the state, then absorb x where ok."""

    def _score(self, raw: FloatArray) -> FloatArray:
        """Map raw strength (z-like, >= 0) to [0, 1]: 0.5 at ``z_half``, never saturating."""
        half = float(getattr(self.config, "z_half", 4.0))
        r2 = np.square(np.maximum(raw, 0.0))
        return r2 / (r2 + half * half)

    def _fit(self, values: FloatArray, timestamps: FloatArray) -> None:
        """Learn from history; by default replay it through the stream."""
        self.update(values, timestamps)

    # -- public API --------------------------------------------------------------------------
    def fit(self, history: NDArray[Any], timestamps: NDArray[Any] | None = None) -> Self:
        """Warm the state on history shaped (n_series, k)."""
        v, t, _ = self._shape(history, timestamps)
        self._fit(v, t)
        return self

    def update(self, values: NDArray[Any], timestamps: NDArray[Any] | None = None) -> FloatArray:
        """Score new samples shaped (n_series,) or (n_series, k) and absorb them."""
        v, t, flat = self._shape(values, timestamps)
        n, k = v.shape
        out = np.zeros((n, k))
        exp, band = np.full((n, k), np.nan), np.full((n, k), np.nan)
        for j in range(k):
            out[:, j] = self._step(v[:, j], t[:, j])
            exp[:, j], band[:, j] = self.expected, self.band
        self.last_expected, self.last_band = exp, band
        return out[:, 0] if flat else out

    def _step(self, x: FloatArray, t: FloatArray) -> FloatArray:
        """Score in [0, 1] of one sample per series (0 while warming up or missing), then absorb it."""
        return np.clip(self._score(self._raw_step(x, t)), 0.0, 1.0)

    def _raw_step(self, x: FloatArray, t: FloatArray) -> FloatArray:
        """Raw strength (>= 0) of one sample per series, 0 while warming up or missing; absorb it."""
        ok = np.isfinite(x) & np.isfinite(t)
        if self.config.counter:
            x, ok = self._rate(x, t, ok)
        raw = self._update(np.where(ok, x, 0.0), t, ok)
        seen = self.state["n_seen"]
        live = ok & (seen >= self.config.warmup) & np.isfinite(raw)
        seen += ok
        return np.where(live, np.maximum(raw, 0.0), 0.0)

    def _rate(self, x: FloatArray, t: FloatArray, ok: BoolArray) -> tuple[FloatArray, BoolArray]:
        """Per-second rate of a counter; a decrease is a reset (the new value counts from 0)."""
        s = self.state
        px, pt = s["prev_x"], s["prev_t"]
        dt = t - pt
        inc = np.where(x >= px, x - px, x)
        good = ok & np.isfinite(px) & (dt > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.where(good, inc / np.where(good, dt, 1.0), 0.0)
        s["prev_x"] = np.where(ok, x, px)
        s["prev_t"] = np.where(ok, t, pt)
        return rate, good

    def score(self, values: NDArray[Any], timestamps: NDArray[Any] | None = None) -> FloatArray:
        """Scores of a batch without changing this detector's state."""
        return copy.deepcopy(self).update(values, timestamps)

    def state_dict(self) -> dict[str, NDArray[Any]]:
        """All state arrays, children's prefixed by their index."""
        out = dict(self.state)
        for i, child in enumerate(self.children):
            out.update({f"{i}.{k}": v for k, v in child.state_dict().items()})
        return out

    def load_state(self, arrays: dict[str, NDArray[Any]]) -> None:
        """Restore what state_dict returned."""
        for key in self.state:
            self.state[key] = np.array(arrays[key])
        for i, child in enumerate(self.children):
            pre = f"{i}."
            child.load_state({k[len(pre) :]: v for k, v in arrays.items() if k.startswith(pre)})

    def save(self, path: Path) -> None:
        """Write config (detector.json) and state (state.npz) into directory ``path``."""
        path.mkdir(parents=True, exist_ok=True)
        meta = {"detector": self.name, "n_series": self.n_series, "config": self.config.to_dict()}
        (path / "detector.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
        np.savez(path / "state.npz", **self.state_dict())  # type: ignore[arg-type]

    @staticmethod
    def load(path: Path) -> Detector:
        """Rebuild a saved detector (by its registered name) with its state."""
        from openmanager.analytics.detect.registry import create

        meta = json.loads((path / "detector.json").read_text())
        det = create(meta["detector"], meta["config"], n_series=int(meta["n_series"]))
        with np.load(path / "state.npz") as data:
            det.load_state({k: data[k] for k in data.files})
        return det

    # -- helpers -------------------------------------------------------------------------------
    def _zeros(self, key: str, *shape: int, fill: float = 0.0, dtype: Any = np.float64) -> None:
        self.state[key] = np.full((self.n_series, *shape), fill, dtype=dtype)

    def _shape(
        self, values: NDArray[Any], timestamps: NDArray[Any] | None
    ) -> tuple[FloatArray, FloatArray, bool]:
        v = np.asarray(values, dtype=np.float64)
        flat = v.ndim == 1
        if flat:
            v = v[:, None]
        if v.ndim != 2 or v.shape[0] != self.n_series:
            raise InvalidInput(
                f"{self.name}: values must be shaped ({self.n_series},) or ({self.n_series}, k), "
                f"got {np.shape(values)}"
            )
        if timestamps is None:
            t = self.state["n_seen"][:, None] + np.arange(v.shape[1], dtype=np.float64)
        else:
            t = np.asarray(timestamps, dtype=np.float64)
            if flat and t.ndim == 1 and t.shape[0] == self.n_series:
                t = t[:, None]
            try:
                t = np.broadcast_to(t, v.shape)
            except ValueError:
                raise InvalidInput(
                    f"{self.name}: timestamps shaped {t.shape} do not match values {v.shape}"
                ) from None
        return v, np.asarray(t, dtype=np.float64), flat
