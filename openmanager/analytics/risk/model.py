"""The risk model: a logistic combination of factor scores, with per-factor contributions.

Weights come from a logistic regression fitted on simulator history against its ground truth
(`benchmarks/forecast_risk.py` refits and reports calibration); the defaults below are one such
fit, so a score of 0.3 means about 30% of servers scored so were in trouble 15 minutes later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from openmanager.samples import Float64Array

DEFAULT_WEIGHTS: dict[str, float] = {
    "cpu_saturation": 5.8,
    "memory_saturation": 6.2,
    "disk_saturation": 0.0,
    "disk_fill_trend": 8.1,
    "memory_growth_trend": 3.3,
    "latency_anomaly": 10.5,
    "error_ratio": 0.7,
    "service_down": 0.0,
    "firing_alerts": 3.0,
}
"""Fitted by `benchmarks/forecast_risk.py --days 2 --fault-scale 12` (seed 3, first day), negative
weights (collinear factors) set to 0 so every reason reads "raises the risk". The simulator fires
no alerts, so `firing_alerts` keeps a prior weight: three firing alerts alone give ~0.1."""
DEFAULT_BIAS = -5.1


@dataclass
class RiskModel:
    """score = sigmoid(bias + sum(weight_i * factor_i)); factors in 0..1."""

    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    bias: float = DEFAULT_BIAS

    def score(self, factors: dict[str, Float64Array]) -> Float64Array:
        """Risk in 0..1 for every row of the factor arrays."""
        z = np.full(len(next(iter(factors.values()))), self.bias)
        for name, w in self.weights.items():
            if name in factors:
                z = z + w * factors[name]
        out: Float64Array = 1.0 / (1.0 + np.exp(-z))
        return out

    def fit(self, factors: dict[str, Float64Array], labels: np.ndarray) -> RiskModel:
        """Fit weights and bias by (lightly regularised) logistic regression."""
        from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

        names = list(self.weights)
        x = np.column_stack([factors[n] for n in names])
        lr = LogisticRegression(C=10.0, max_iter=1000).fit(x, labels.astype(int))
        self.weights = {n: float(w) for n, w in zip(names, lr.coef_[0], strict=True)}
        self.bias = float(lr.intercept_[0])
        return self

    def explain(self, row: dict[str, float]) -> list[dict[str, Any]]:
        """Factors that raise the score, largest contribution first."""
        out = [
            {"factor": n, "value": round(v, 3), "contribution": round(self.weights[n] * v, 3)}
            for n, v in row.items()
            if n in self.weights and v > 0 and self.weights[n] > 0
        ]
        return sorted(out, key=lambda d: -d["contribution"])
