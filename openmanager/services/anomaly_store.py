"""Anomalies kept in the metadata store (table ``anomalies``) so listings survive a restart."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, or_, select

from openmanager.analytics.detect.evidence import Evidence
from openmanager.meta.db import MetaDB
from openmanager.meta.models import AnomalyRow


class AnomalyStore:
    """Append anomalies with their evidence; list them newest first by server, metric and time."""

    def __init__(self, meta: MetaDB, keep: int = 100_000) -> None:
        self.meta = meta
        self.keep = keep

    def add(self, found: Iterable[tuple[str, Evidence]]) -> None:
        """Store (metric name, evidence) pairs; the oldest rows beyond ``keep`` are dropped."""
        rows = [
            AnomalyRow(
                at=ev.window_end,
                server=ev.series.get("server") or ev.series.get("instance", ""),
                metric=metric,
                check=ev.check,
                score=ev.score,
                doc=ev.to_dict(),
            )
            for metric, ev in found
        ]
        if not rows:
            return
        with self.meta.session() as session, session.begin():
            session.add_all(rows)
            session.flush()
            newest = max(r.id for r in rows)
            session.execute(delete(AnomalyRow).where(AnomalyRow.id <= newest - self.keep))

    def list(
        self,
        server: str | None = None,
        metric: str | None = None,
        since_s: float | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Evidence dicts, newest first; ``metric`` matches the metric name or the check name."""
        q = select(AnomalyRow)
        if server:
            q = q.where(AnomalyRow.server == server)
        if metric:
            q = q.where(or_(AnomalyRow.metric == metric, AnomalyRow.check == metric))
        if since_s is not None:
            q = q.where(AnomalyRow.at >= since_s)
        q = q.order_by(AnomalyRow.at.desc(), AnomalyRow.id.desc()).limit(limit)
        with self.meta.session() as session:
            rows = session.scalars(q).all()
        return [{"id": r.id, "metric": r.metric, **r.doc} for r in rows]
