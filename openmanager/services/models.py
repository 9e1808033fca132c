"""The model registry over the metadata store: train versions, promote when validation improves,
roll back; forecaster versions are trained through the query engine like every other consumer.

Stages: `candidate` (trained, not serving), `production` (one per model name), `archived` (was in
production), `rejected` (did not beat production), `rolled_back` (taken out of production).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openmanager.analytics.forecast.prepare import prepare
from openmanager.analytics.models import (
    FORECASTER,
    ForecasterSpec,
    TrainedModel,
    score_forecaster,
    train_forecaster,
)
from openmanager.errors import Conflict, InvalidInput, NotFound, OpenManagerError
from openmanager.meta.db import MetaDB
from openmanager.meta.models import ModelVersion
from openmanager.services.query import QueryService

DEFAULT_STEP_MS = 300_000
DEFAULT_WINDOW_MS = 3 * 86_400_000
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


def _better(new: float | None, old: float | None) -> bool:
    """A lower validation error wins; a score beats no score."""
    return new is not None and (old is None or new < old)


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
    ) -> None:
        self.meta = meta
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
            return as_dict(row)

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
            return as_dict(previous)

    # --- training --------------------------------------------------------------------------
    def train(
        self,
        name: str,
        spec: ForecasterSpec | None = None,
        *,
        window_ms: int | None = None,
        step_ms: int = DEFAULT_STEP_MS,
        at_ms: int | None = None,
        auto_promote: bool | None = None,
    ) -> dict[str, Any]:
        """Train a new version of `name` on the window ending at `at_ms` (default now) and, with
        `auto_promote`, promote it when its validation beats production's on the same window.
        Without `spec`, the production (else newest) version's spec is retrained. Unset options
        take the service's defaults (settings `models.*`)."""
        window_ms = self.window_ms if window_ms is None else window_ms
        auto_promote = self.auto_promote if auto_promote is None else auto_promote
        if window_ms <= 0 or step_ms <= 0 or window_ms < 12 * step_ms:
            raise InvalidInput("the training window must hold at least 12 steps")
        if self.queries is None:
            raise InvalidInput("training needs the time-series store")
        if not name.strip():
            raise InvalidInput("a model needs a name")
        if spec is None:
            spec = self._spec_of(name)
        spec.validate()
        end = int(self.clock() * 1000) if at_ms is None else at_ms
        end -= end % step_ms
        res = self.queries.range(spec.expr, end - window_ms, end, step_ms)
        if not res.series:
            raise NotFound(f"{spec.expr!r} returned no data in the training window")
        if len(res.series) > 1:
            raise InvalidInput(
                f"{spec.expr!r} returned {len(res.series)} series; a model is trained on one "
                "(aggregate it, e.g. sum(...), or select one series by its labels)"
            )
        s = res.series[0]
        prep = prepare(s.timestamps, s.values, step_ms, spec.expr)
        trained = train_forecaster(prep, spec)
        added = self._add(name, FORECASTER, trained)
        if auto_promote:
            added = self._maybe_promote(added, prep, spec)
        return added

    def _spec_of(self, name: str) -> ForecasterSpec:
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
        return ForecasterSpec(
            str(p["expr"]),
            int(float(str(p["horizon_seconds"])) * 1000),
            str(p["season"]),
            float(str(p["level"])),
        )

    def _maybe_promote(
        self, added: dict[str, Any], prep: Any, spec: ForecasterSpec
    ) -> dict[str, Any]:
        """Promote the new version if it beats production re-scored on the new version's window."""
        new_score = added["metrics"].get("mase")
        with self.meta.session() as ses, ses.begin():
            row = self._get(ses, added["name"], added["version"])
            current = self._production(ses, row.name)
            if current is None:
                self._set_production(ses, row, "first version")
                return as_dict(row)
            cmp: dict[str, Any] = {"production_version": current.version}
            prod = current.params
            same_window = ForecasterSpec(
                spec.expr, spec.horizon_ms, str(prod["season"]), spec.level
            )
            try:
                old, _, _ = score_forecaster(prep, same_window, str(prod["model"]))
                old_score = old.get("mase")
            except InvalidInput as exc:
                old_score = None
                cmp["production_error"] = exc.message
            cmp["production_mase_same_window"] = old_score
            if _better(new_score, old_score):
                self._set_production(ses, row, f"validation MASE {new_score} < {old_score}")
            else:
                row.stage = "rejected"
            row.metrics = {**row.metrics, "compared": cmp}
            return as_dict(row)

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
