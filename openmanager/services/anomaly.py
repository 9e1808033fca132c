"""Anomaly detection over stored fleet metrics: a scheduler job scoring every check's series.

Each check is a PromQL expression and a detector. Every tick evaluates the expressions at
"now" through the query engine, streams the values into the check's detector (one row per
result series, vectorised), writes `openmanager_anomaly_score{check=...,...}` so rules can alert
on it, and keeps (and publishes on the bus) an Evidence record for every score above threshold.
A check whose detector model has a version in production (`openmanager models train CHECK --kind
detector`) runs that version's detector, settings and threshold instead of its defaults.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from openmanager.analytics.detect.base import Detector
from openmanager.analytics.detect.ensemble import Ensemble
from openmanager.analytics.detect.evidence import Evidence, promql_check
from openmanager.analytics.detect.registry import create
from openmanager.samples import Labels, labels_get, make_labels
from openmanager.services.anomaly_store import AnomalyStore
from openmanager.services.gauges import write_gauge
from openmanager.services.query import QueryService
from openmanager.tsdb.storage import Storage

log = logging.getLogger(__name__)

SCORE_METRIC = "openmanager_anomaly_score"
CHANNEL = "anomalies"
INTERVAL_S = 15.0
THRESHOLD = 0.65
"""Score from which a check's value is an anomaly (chosen on the simulator benchmark)."""
MODELS_REFRESH_S = 60.0
"""How often the promoted detector versions are re-read from the model registry."""
Promoted = Callable[[], dict[str, dict[str, Any]]]
"""Params of the detector versions in production, by check name (`ModelService.production_detectors`)."""


@dataclass(frozen=True)
class Check:
    """What to watch (a PromQL expression) and with which detector (name and settings)."""

    name: str
    expr: str
    detector: str = "server_ensemble"
    settings: dict[str, Any] = field(default_factory=dict)


DEFAULT_CHECKS = (
    Check("cpu", 'sum by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[1m]))'),
    Check("memory_used", "node_memory_MemTotal_bytes - node_memory_MemAvailable_bytes"),
    Check(
        "memory_leak",
        "node_memory_MemTotal_bytes - node_memory_MemAvailable_bytes",
        "memory_leak",
    ),
    Check("disk_fill", "node_filesystem_size_bytes - node_filesystem_avail_bytes", "disk_anomaly"),
    Check(
        "network_rx",
        "sum by (instance) (rate(node_network_receive_bytes_total[1m]))",
        "network_anomaly",
        {"counter": False},
    ),
)


@dataclass(frozen=True)
class ActiveCheck:
    """A check as it runs now: its defaults, or its detector model's production version."""

    check: Check
    threshold: float
    model_version: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        c = self.check
        return {
            "name": c.name, "expr": c.expr, "detector": c.detector, "settings": c.settings,
            "threshold": self.threshold, "model_version": self.model_version,
        }  # fmt: skip


@dataclass
class _Watch:
    check: Check
    keys: list[Labels]
    detector: Detector


class AnomalyService:
    """Runs the checks on the scheduler; lists recent anomalies with their evidence."""

    def __init__(
        self,
        queries: QueryService,
        storage: Storage,
        clock: Callable[[], float] = time.time,
        publish: Callable[[str, dict[str, Any]], Any] | None = None,
        checks: tuple[Check, ...] = DEFAULT_CHECKS,
        threshold: float = THRESHOLD,
        keep: int = 1000,
        store: AnomalyStore | None = None,
        promoted: Promoted | None = None,
    ) -> None:
        self.queries, self.storage, self.clock, self.publish = queries, storage, clock, publish
        self.checks = checks
        self.threshold = threshold
        self.anomalies: deque[Evidence] = deque(maxlen=keep)
        self.store = store
        self._watches: dict[str, _Watch] = {}
        self.promoted = promoted
        self._models: dict[str, dict[str, Any]] = {}
        self._models_at = -math.inf

    def reload_models(self) -> None:
        """Re-read the promoted detector versions at the next tick (a production change)."""
        self._models_at = -math.inf

    def active(self) -> list[ActiveCheck]:
        """The checks as they run: a promoted detector version replaces a check's defaults, and a
        promoted version for a check not among the defaults adds it (re-read every minute)."""
        now = self.clock()
        if self.promoted is not None and now - self._models_at >= MODELS_REFRESH_S:
            try:
                self._models = self.promoted()
            except Exception as exc:  # registry outage: keep the versions read last
                log.warning("could not read the promoted detector models: %s", exc)
            self._models_at = now
        out = [
            ActiveCheck(c, self.threshold) if c.name not in self._models
            else _from_model(c.name, self._models[c.name])
            for c in self.checks
        ]  # fmt: skip
        known = {c.name for c in self.checks}
        out += [_from_model(n, p) for n, p in sorted(self._models.items()) if n not in known]
        return out

    def register(self, scheduler: Any, interval_s: float = INTERVAL_S) -> None:
        """Add the scoring job to a Scheduler."""
        scheduler.add("anomaly-detection", interval_s, self.tick)

    def tick(self) -> list[Evidence]:
        """Score every check's series at now; write scores; return the new anomalies."""
        now_ms = int(self.clock() * 1000)
        labels: list[Labels] = []
        values: list[float] = []
        found: list[Evidence] = []
        metrics: list[str] = []
        for active in self.active():
            check = active.check
            try:
                result = self.queries.instant(check.expr, now_ms)
            except Exception as exc:  # one broken check must not stop the others
                log.warning("anomaly check %s failed: %s", check.name, exc)
                continue
            if not result.series:
                continue
            watch = self._watch(check, [s.labels for s in result.series])
            row = {k: i for i, k in enumerate(watch.keys)}
            x = np.full(len(watch.keys), np.nan)
            for s in result.series:
                if len(s.values):
                    x[row[s.labels]] = float(s.values[-1])
            scores = watch.detector.update(x, np.full(len(x), now_ms / 1000.0))
            for i, key in enumerate(watch.keys):
                if not math.isfinite(x[i]):
                    continue
                base = [(k, v) for k, v in key if k != "__name__"]
                labels.append(make_labels(SCORE_METRIC, [*base, ("check", check.name)]))
                values.append(float(scores[i]))
                if scores[i] >= active.threshold:
                    found.append(self._evidence(watch, i, float(x[i]), float(scores[i]), now_ms))
                    metrics.append(labels_get(key, "__name__") or check.name)
        self._write(labels, values, now_ms)
        if self.store is not None and found:
            try:
                self.store.add(zip(metrics, found, strict=True))
            except Exception as exc:  # the scores are written; a store outage must not stop them
                log.warning("could not store %d anomalies: %s", len(found), exc)
        for ev in found:
            self.anomalies.append(ev)
            if self.publish is not None:
                self.publish(CHANNEL, ev.to_dict())
        return found

    def listing(
        self,
        server: str | None = None,
        metric: str | None = None,
        since_s: float | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Anomalies newest first as evidence dicts: from the store if there is one (they survive
        restarts), else from memory; ``metric`` matches the metric name or the check name."""
        if self.store is not None:
            return self.store.list(server, metric, since_s, limit)
        out = [
            e.to_dict()
            for e in self.recent(since_s)
            if (server is None or server in (e.series.get("server"), e.series.get("instance")))
            and (metric is None or metric == e.check)
        ]
        return out[:limit]

    def recent(self, since_s: float | None = None, check: str | None = None) -> list[Evidence]:
        """Kept anomalies, newest first, optionally since a time and for one check."""
        out = [
            e
            for e in self.anomalies
            if (since_s is None or e.window_end >= since_s) and (check is None or e.check == check)
        ]
        return out[::-1]

    def _watch(self, check: Check, keys: list[Labels]) -> _Watch:
        """The check's detector; rebuilt (state of known series kept) when the series set changes,
        and anew (a new model version warms up afresh) when the check's detector or settings do."""
        watch = self._watches.get(check.name)
        if watch is not None and watch.check != check:
            watch = None
        if watch is not None and set(keys) <= set(watch.keys):
            return watch
        merged = list(watch.keys) if watch else []
        merged += [k for k in keys if k not in set(merged)]
        det = create(check.detector, check.settings, n_series=len(merged))
        if watch is not None:
            old = watch.detector.state_dict()
            n_old = len(watch.keys)
            for key, arr in det.state_dict().items():
                if key in old and arr.ndim >= 1 and arr.shape[0] == len(merged):
                    arr[:n_old] = old[key]
        watch = _Watch(check, merged, det)
        self._watches[check.name] = watch
        return watch

    def _evidence(
        self, watch: _Watch, i: int, observed: float, score: float, now_ms: int
    ) -> Evidence:
        det = watch.detector
        expected = float(det.last_expected[i, -1]) if det.last_expected.size else math.nan
        band = float(det.last_band[i, -1]) if det.last_band.size else math.nan
        agreeing: tuple[str, ...] = (det.name,)
        if isinstance(det, Ensemble) and det.agree:
            agreeing = tuple(c.name for c, a in zip(det.children, det.agree, strict=True) if a[i])
        key = watch.keys[i]
        sel = _selector(key) if watch.check.expr.startswith("node_") else watch.check.expr
        return Evidence(
            series={k: v for k, v in key if k != "__name__"},
            check=watch.check.name,
            detector=det.name,
            window_start=now_ms / 1000.0 - INTERVAL_S,
            window_end=now_ms / 1000.0,
            expected=expected,
            lower=expected - band,
            upper=expected + band,
            observed=observed,
            score=score,
            agreeing=agreeing,
            promql=promql_check(sel, expected, band) if math.isfinite(band) else sel,
        )

    def _write(self, labels: list[Labels], values: list[float], now_ms: int) -> None:
        write_gauge(
            self.storage, SCORE_METRIC,
            f"Anomaly score (0-1) of a check's series; >= {THRESHOLD} is an anomaly.",
            labels, values, now_ms, log, "anomaly scores",
        )  # fmt: skip


def _from_model(name: str, params: dict[str, Any]) -> ActiveCheck:
    """The check a detector model version runs."""
    check = Check(name, str(params["expr"]), str(params["detector"]), dict(params["settings"]))
    return ActiveCheck(check, float(params["threshold"]), int(params["version"]))


def _selector(labels: Labels) -> str:
    name = next((v for k, v in labels if k == "__name__"), "")
    inner = ",".join(f'{k}="{v}"' for k, v in labels if k != "__name__")
    return f"{name}{{{inner}}}"
