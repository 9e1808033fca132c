"""Where incidents live: the metadata store (table ``incidents``), shared by every instance on it."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Protocol

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from openmanager.analytics.rca.incident import Incident, Status, incident_from_dict
from openmanager.errors import NotFound, Unavailable
from openmanager.meta.db import MetaDB
from openmanager.meta.models import IncidentRow


class IncidentStore(Protocol):
    """Persistence used by the incident service."""

    def create(self, make: Callable[[int], Incident]) -> Incident: ...
    def put(self, incident: Incident) -> None: ...
    def get(self, ident: int) -> Incident: ...
    def list(self, status: Status | None = None, limit: int = 100) -> builtins.list[Incident]: ...
    def unresolved(self) -> builtins.list[Incident]: ...
    def close(self) -> None: ...


CREATE_ATTEMPTS = 8
"""Ids tried when other instances keep taking the next one."""


def _row(incident: Incident) -> dict[str, object]:
    return {"id": incident.id, "status": incident.status, "started_at": incident.started_at,
            "last_event_at": incident.last_event_at, "doc": incident.to_dict()}  # fmt: skip


class MetaIncidentStore:
    """IncidentStore on the metadata store: one row per incident, its record (timeline) as JSON.

    `owned`: the store opened `meta` for itself and closes it on `close()`.
    """

    def __init__(self, meta: MetaDB, *, owned: bool = False) -> None:
        self.meta, self.owned = meta, owned

    def close(self) -> None:
        if self.owned:
            self.meta.close()

    def create(self, make: Callable[[int], Incident]) -> Incident:
        """`make(id)` stored under the next free id; a plain insert, so instances sharing the
        store never overwrite each other's new incident (a taken id is tried again)."""
        for _ in range(CREATE_ATTEMPTS):
            with self.meta.session() as session:
                top = session.scalar(select(func.coalesce(func.max(IncidentRow.id), 0))) or 0
            incident = make(int(top) + 1)
            try:
                with self.meta.connect() as conn, conn.begin():
                    conn.execute(insert(IncidentRow).values(**_row(incident)))
            except IntegrityError:
                continue
            return incident
        raise Unavailable(f"no free incident id after {CREATE_ATTEMPTS} attempts")

    def put(self, incident: Incident) -> None:
        """Store a changed incident (its id exists)."""
        with self.meta.connect() as conn, conn.begin():
            conn.execute(self.meta.upsert(IncidentRow.__table__, _row(incident), ["id"]))  # type: ignore[arg-type]

    def get(self, ident: int) -> Incident:
        with self.meta.session() as session:
            row = session.get(IncidentRow, ident)
            if row is None:
                raise NotFound(f"no incident {ident}")
            return incident_from_dict(row.doc)

    def list(self, status: Status | None = None, limit: int = 100) -> builtins.list[Incident]:
        q = select(IncidentRow.doc)
        if status is not None:
            q = q.where(IncidentRow.status == status)
        q = q.order_by(IncidentRow.started_at.desc(), IncidentRow.id.desc()).limit(limit)
        with self.meta.session() as session:
            return [incident_from_dict(doc) for doc in session.scalars(q)]

    def unresolved(self) -> builtins.list[Incident]:
        q = select(IncidentRow.doc).where(IncidentRow.status != "resolved").order_by(IncidentRow.id)
        with self.meta.session() as session:
            return [incident_from_dict(doc) for doc in session.scalars(q)]
