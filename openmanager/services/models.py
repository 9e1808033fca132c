"""The model registry over the metadata store: train versions, promote when validation improves,
roll back. Forecaster and anomaly-detector versions are trained through the query engine like every
other consumer; detectors are validated against labelled faults (the simulator's ground truth).

Stages: `candidate` (trained, not serving), `production` (one per model name), `archived` (was in
production), `rejected` (did not beat production), `rolled_back` (taken out of production).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openmanager.analytics.forecast.prepare import prepare
from openmanager.analytics.models import (
    DETECTOR,
    FORECASTER,
    DetectorSpec,
    ForecasterSpec,
    Labelled,
    TrainedModel,
    score_detector,
    score_forecaster,
    train_detector,
    train_forecaster,
)
from openmanager.errors import Conflict, InvalidInput, NotFound, OpenManagerError
from openmanager.meta.db import MetaDB
from openmanager.meta.models import ModelVersion
from openmanager.samples import labels_get
from openmanager.services.anomaly import DEFAULT_CHECKS
from openmanager.services.query import QueryService
from openmanager.simulate.faults import FaultRecord

DEFAULT_STEP_MS = 300_000
DEFAULT_WINDOW_MS = 3 * 86_400_000
DETECTOR_STEP_MS = 60_000
Truth = Callable[[int, int], Sequence[FaultRecord]]
"""Labelled faults under way in [start ms, end ms] (the simulator's ground truth)."""
SCORE = {FORECASTER: ("mase", False), DETECTOR: ("f1", True)}
"""Each kind's validation score and whether higher is better."""
log = logging.getLogger(__name__)


def as_dict(row: ModelVersion) -> dict[str, Any]:
    """Plain data of one version for JSON and tables."""
    return {
        "name": row.name,
        "version": row.version,
        "kind": row.kind,
        "stage": row.stage,
        "params": row.params,
        "metrics": row.metrics,
        "created_at": row.created_at,
    }


def _better(new: float | None, old: float | None, higher: bool = False) -> bool:
    """A lower validation error (higher score when `higher`) wins; a score beats no score."""
    if new is None:
        return False
    return old is None or (new > old if higher else new < old)


def check_spec(name: str, expr: str | None = None, detector: str | None = None) -> DetectorSpec:
    """The detector spec of an anomaly check (a default check's name, or any name with `expr`)."""
    known = {c.name: c for c in DEFAULT_CHECKS}
    base = known.get(name)
    if base is None and not expr:
        raise NotFound(
            f"no anomaly check named {name!r} (known: {', '.join(known)}); give an expression"
        )
    return DetectorSpec(
        name,
        expr or (base.expr if base else ""),
        detector or (base.detector if base else "server_ensemble"),
        dict(base.settings) if base and not detector else {},
    )


def fault_windows(faults: Sequence[FaultRecord]) -> dict[str, list[tuple[float, float]]]:
    """(start s, end s) of every fault per server it touches."""
    out: dict[str, list[tuple[float, float]]] = {}
    for f in faults:
        end = max([f.end_ms, *(a.end_ms for a in f.affected)])
        for srv in f.servers:
            out.setdefault(srv, []).append((f.start_ms / 1000, end / 1000))
    return out


def _server_of(labels: Any) -> str:
    """The server a series belongs to: its `server` label, else its `instance` without the port."""
    srv = labels_get(labels, "server")
    if srv:
        return str(srv)
    inst = str(labels_get(labels, "instance") or "")
    return inst.rsplit(":", 1)[0] if ":" in inst else inst


class ModelService:
    """List, train, promote and roll back versions of named models."""

    def __init__(
        self,
        meta: MetaDB,
        queries: QueryService | None = None,
        clock: Callable[[], float] = time.time,
        *,
        window_ms: int = DEFAULT_WINDOW_MS,
        auto_promote: bool = True,
        truth: Truth | None = None,
    ) -> None:
        self.meta = meta
        self.truth = truth
        self.listeners: list[Callable[[], None]] = []
        """Called after the production version of a model changes (e.g. the anomaly service
        re-reads its detectors at once instead of within a minute)."""
        self.queries = queries
        self.clock = clock
        self.window_ms = window_ms
        self.auto_promote = auto_promote

    # --- registry -------------------------------------------------------------------------
    def versions(self, name: str | None = None) -> list[dict[str, Any]]:
        """Every version (of `name`, or of all models), newest first per model."""
        with self.meta.session() as ses:
            q = select(ModelVersion).order_by(ModelVersion.name, ModelVersion.version.desc())
            if name:
                q = q.where(ModelVersion.name == name)
            rows = [as_dict(r) for r in ses.scalars(q)]
        if name and not rows:
            raise NotFound(f"no model named {name!r}")
        return rows

    def _get(self, ses: Session, name: str, version: int) -> ModelVersion:
        if not 1 <= version <= 2_147_483_647:
            raise InvalidInput(f"version must be a positive integer, got {version}")
        row = ses.scalars(
            select(ModelVersion).where(ModelVersion.name == name, ModelVersion.version == version)
        ).one_or_none()
        if row is None:
            raise NotFound(f"model {name!r} has no version {version}")
        return row

    def _production(self, ses: Session, name: str) -> ModelVersion | None:
        return ses.scalars(
            select(ModelVersion).where(
                ModelVersion.name == name, ModelVersion.stage == "production"
            )
        ).one_or_none()

    def _add(self, name: str, kind: str, trained: TrainedModel) -> dict[str, Any]:
        with self.meta.session() as ses, ses.begin():
            last = ses.scalar(
                select(func.max(ModelVersion.version)).where(ModelVersion.name == name)
            )
            row = ModelVersion(
                name=name, version=(last or 0) + 1, kind=kind, stage="candidate",
                params=trained.params, metrics=trained.metrics, created_at=self.clock(),
            )  # fmt: skip
            ses.add(row)
        return as_dict(row)

    def _set_production(self, ses: Session, row: ModelVersion, why: str) -> None:
        current = self._production(ses, row.name)
        if current is not None and current.id != row.id:
            current.stage = "archived"
        row.stage = "production"
        row.metrics = {**row.metrics, "promoted_at": self.clock(), "promotion": why}

    def promote(self, name: str, version: int) -> dict[str, Any]:
        """Put a version in production by hand (the one there is archived)."""
        with self.meta.session() as ses, ses.begin():
            row = self._get(ses, name, version)
            if row.stage == "production":
                raise Conflict(f"{name} v{version} is already in production")
            self._set_production(ses, row, "by hand")
            out = as_dict(row)
        self._changed()
        return out

    def rollback(self, name: str) -> dict[str, Any]:
        """Take the production version out and restore the one that was in production before it."""
        with self.meta.session() as ses, ses.begin():
            current = self._production(ses, name)
            if current is None:
                raise NotFound(f"model {name!r} has no version in production to roll back")
            before = [
                r for r in ses.scalars(
                    select(ModelVersion).where(
                        ModelVersion.name == name, ModelVersion.stage == "archived"
                    )
                )
                if r.metrics.get("promoted_at") is not None
            ]  # fmt: skip
            if not before:
                raise Conflict(f"{name} v{current.version} has no earlier production version")
            previous = max(before, key=lambda r: float(r.metrics["promoted_at"]))  # type: ignore[arg-type]
            current.stage = "rolled_back"
            previous.stage = "production"
            previous.metrics = {**previous.metrics, "restored_at": self.clock()}
            out = as_dict(previous)
        self._changed()
        return out

    def _changed(self) -> None:
        for listener in self.listeners:
            listener()

    # --- training --------------------------------------------------------------------------
    def train(
        self,
        name: str,
        spec: ForecasterSpec | DetectorSpec | None = None,
        *,
        window_ms: int | None = None,
        step_ms: int | None = None,
        at_ms: int | None = None,
        auto_promote: bool | None = None,
    ) -> dict[str, Any]:
        """Train a new version of `name` on the window ending at `at_ms` (default now) and, with
        `auto_promote`, promote it when its validation beats production's on the same window.
        Without `spec`, the production (else newest) version's spec is retrained. Unset options
        take the service's defaults (settings `models.*`; step 5m for forecasters, 1m for
        detectors)."""
        if not name.strip():
            raise InvalidInput("a model needs a name")
        if spec is None:
            spec = self._spec_of(name)
        spec.validate()
        detector = isinstance(spec, DetectorSpec)
        step_ms = step_ms or (DETECTOR_STEP_MS if detector else DEFAULT_STEP_MS)
        window_ms = self.window_ms if window_ms is None else window_ms
        auto_promote = self.auto_promote if auto_promote is None else auto_promote
        if window_ms <= 0 or step_ms <= 0 or window_ms < 12 * step_ms:
            raise InvalidInput("the training window must hold at least 12 steps")
        if self.queries is None:
            raise InvalidInput("training needs the time-series store")
        end = int(self.clock() * 1000) if at_ms is None else at_ms
        end -= end % step_ms
        res = self.queries.range(spec.expr, end - window_ms, end, step_ms)
        if not res.series:
            raise NotFound(f"{spec.expr!r} returned no data in the training window")
        if isinstance(spec, DetectorSpec):
            data = self._labelled(res.series, end - window_ms, end, step_ms)
            added = self._add(name, DETECTOR, train_detector(data, spec))
            return self._maybe_promote(added, data) if auto_promote else added
        if len(res.series) > 1:
            raise InvalidInput(
                f"{spec.expr!r} returned {len(res.series)} series; a model is trained on one "
                "(aggregate it, e.g. sum(...), or select one series by its labels)"
            )
        s = res.series[0]
        prep = prepare(s.timestamps, s.values, step_ms, spec.expr)
        added = self._add(name, FORECASTER, train_forecaster(prep, spec))
        return self._maybe_promote(added, prep) if auto_promote else added

    def _labelled(self, series: Sequence[Any], start: int, end: int, step_ms: int) -> Labelled:
        """The series on one time grid (gaps as NaN) with the faults of the window."""
        if self.truth is None:
            raise InvalidInput(
                "training a detector needs labelled faults: run with the simulator "
                "(simulator.enabled) or give its ground truth (--truth ground_truth.json)"
            )
        grid = np.arange(start, end + 1, step_ms, dtype=np.int64)
        values = np.full((len(series), len(grid)), np.nan)
        for i, s in enumerate(series):
            idx = np.searchsorted(grid, np.asarray(s.timestamps, dtype=np.int64))
            ok = (idx < len(grid)) & (grid[np.minimum(idx, len(grid) - 1)] == s.timestamps)
            values[i, idx[ok]] = np.asarray(s.values, dtype=np.float64)[ok]
        faults = fault_windows(self.truth(start, end))
        return Labelled(values, grid / 1000.0, [_server_of(s.labels) for s in series], faults)

    def spec_for(
        self,
        name: str,
        kind: str = FORECASTER,
        *,
        expr: str | None = None,
        horizon_ms: int = 3_600_000,
        season: str = "auto",
        level: float = 0.8,
        detector: str | None = None,
    ) -> ForecasterSpec | DetectorSpec | None:
        """The spec a train request names (None: retrain the model's own). A detector model with
        neither `expr` nor `detector` retrains its own spec, or starts from the check's defaults."""
        if kind == FORECASTER:
            if detector:
                raise InvalidInput("--detector applies to detector models only")
            return ForecasterSpec(expr, horizon_ms, season, level) if expr else None
        if kind != DETECTOR:
            raise InvalidInput(f"kind must be {FORECASTER} or {DETECTOR}, got {kind!r}")
        if expr or detector:
            return check_spec(name, expr, detector)
        try:
            self._spec_of(name)
        except NotFound:
            return check_spec(name)
        return None

    def _spec_of(self, name: str) -> ForecasterSpec | DetectorSpec:
        with self.meta.session() as ses:
            row = (
                self._production(ses, name)
                or ses.scalars(
                    select(ModelVersion)
                    .where(ModelVersion.name == name)
                    .order_by(ModelVersion.version.desc())
                ).first()
            )
        if row is None:
            raise NotFound(f"no model named {name!r}; give an expression to train a new one")
        p = row.params
        if row.kind == DETECTOR:
            return DetectorSpec(
                str(p["check"]), str(p["expr"]), str(p["detector"]),
                {k: v for k, v in dict(p["settings"]).items() if k != "persist"},  # type: ignore[call-overload]
                float(str(p["threshold"])),
            )  # fmt: skip
        return ForecasterSpec(
            str(p["expr"]),
            int(float(str(p["horizon_seconds"])) * 1000),
            str(p["season"]),
            float(str(p["level"])),
        )

    def _maybe_promote(self, added: dict[str, Any], data: Any) -> dict[str, Any]:
        """Promote the new version if it beats production re-scored on the new version's window."""
        key, higher = SCORE[added["kind"]]
        new_score = added["metrics"].get(key)
        with self.meta.session() as ses, ses.begin():
            row = self._get(ses, added["name"], added["version"])
            current = self._production(ses, row.name)
            if current is None:
                self._set_production(ses, row, "first version")
                out = as_dict(row)
                self._changed()
                return out
            cmp: dict[str, Any] = {"production_version": current.version}
            try:
                old_score = self._rescore(current, row, data).get(key)
            except InvalidInput as exc:
                old_score = None
                cmp["production_error"] = exc.message
            cmp[f"production_{key}_same_window"] = old_score
            if _better(new_score, old_score, higher):
                how = ">" if higher else "<"
                self._set_production(ses, row, f"validation {key} {new_score} {how} {old_score}")
            else:
                row.stage = "rejected"
            row.metrics = {**row.metrics, "compared": cmp}
            out = as_dict(row)
        if out["stage"] == "production":
            self._changed()
        return out

    @staticmethod
    def _rescore(current: ModelVersion, new: ModelVersion, data: Any) -> dict[str, Any]:
        """Validation metrics of the production version on the new version's window."""
        prod, p = current.params, new.params
        if current.kind != new.kind:
            raise InvalidInput(f"production is a {current.kind}, not a {new.kind}")
        if new.kind == DETECTOR:
            settings = dict(prod["settings"])  # type: ignore[call-overload]
            return score_detector(
                data, str(prod["detector"]), settings, float(str(prod["threshold"]))
            )
        same_window = ForecasterSpec(
            str(p["expr"]), int(float(str(p["horizon_seconds"])) * 1000), str(prod["season"]),
            float(str(p["level"])),
        )  # fmt: skip
        return score_forecaster(data, same_window, str(prod["model"]))[0]

    def production_detectors(self) -> dict[str, dict[str, Any]]:
        """Params of every detector version in production, by the check it serves."""
        with self.meta.session() as ses:
            rows = ses.scalars(
                select(ModelVersion).where(
                    ModelVersion.kind == DETECTOR, ModelVersion.stage == "production"
                )
            )
            return {str(r.params["check"]): {**r.params, "version": r.version} for r in rows}

    def retrain_all(self) -> list[dict[str, Any]]:
        """The scheduled job: a new version of every model that has one in production."""
        with self.meta.session() as ses:
            names = list(
                ses.scalars(select(ModelVersion.name).where(ModelVersion.stage == "production"))
            )
        out: list[dict[str, Any]] = []
        for name in sorted(set(names)):
            try:
                out.append(self.train(name))
            except OpenManagerError as exc:  # one model's bad window must not stop the others
                log.warning("models: retraining %s failed: %s", name, exc)
        return out

    def scheduled_retrain(self) -> None:
        """The `model-retrain` job of `serve` (settings `models.retrain_every`)."""
        done = self.retrain_all()
        log.info("models: retrained %d model(s)", len(done))
