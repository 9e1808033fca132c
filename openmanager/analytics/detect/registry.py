"""Detectors by name, imported lazily; built-ins register exactly like extensions."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from openmanager.errors import NotFound

if TYPE_CHECKING:
    from openmanager.analytics.detect.base import Detector

_PKG = "openmanager.analytics.detect"
_TARGETS: dict[str, str | type[Detector]] = {}


def register(name: str, target: str | type[Detector]) -> None:
    """Register a detector class or a lazy "module:Class" path under ``name``."""
    _TARGETS[name] = target


def names() -> list[str]:
    """Every registered detector name, sorted."""
    return sorted(_TARGETS)


def get(name: str) -> type[Detector]:
    """The detector class registered under ``name`` (imported on first use)."""
    try:
        target = _TARGETS[name]
    except KeyError:
        raise NotFound(f"unknown detector {name!r}; known: {', '.join(names())}") from None
    if isinstance(target, str):
        module, _, attr = target.partition(":")
        cls: type[Detector] = getattr(importlib.import_module(module), attr)
        _TARGETS[name] = cls
        return cls
    return target


def create(name: str, config: dict[str, Any] | None = None, n_series: int = 1) -> Detector:
    """A fresh detector for ``n_series`` series, configured from a plain dict."""
    cls = get(name)
    return cls(cls.config_class.from_dict(config or {}), n_series=n_series)


for _name, _path in {
    "robust_z": "robust:RobustZ",
    "iqr": "robust:IQR",
    "seasonal": "seasonal:SeasonalBaseline",
    "cusum": "changepoint:Cusum",
    "isolation_forest": "iforest:IsolationForestDetector",
    "ensemble": "ensemble:Ensemble",
    "adaptive": "adaptive:Adaptive",
    "server_ensemble": "ensemble:ServerEnsemble",
    "cpu_spike": "patterns:CpuSpike",
    "memory_leak": "patterns:MemoryLeak",
    "disk_anomaly": "patterns:DiskAnomaly",
    "network_anomaly": "patterns:NetworkAnomaly",
    "composite_anomaly": "patterns:CompositeAnomaly",
    "saturation": "saturation:Saturation",
}.items():
    register(_name, f"{_PKG}.{_path}")
