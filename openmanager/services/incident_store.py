"""Where incidents live: the metadata store (table ``incidents``), shared by every instance on it."""

from __future__ import annotations

import builtins
from typing import Protocol

from sqlalchemy import func, select

from openmanager.analytics.rca.incident import Incident, Status, incident_from_dict
from openmanager.errors import NotFound
from openmanager.meta.db import MetaDB
from openmanager.meta.models import IncidentRow


class IncidentStore(Protocol):
    """Persistence used by the incident service."""

    def next_id(self) -> int: ...
    def put(self, incident: Incident) -> None: ...
    def get(self, ident: int) -> Incident: ...
    def list(self, status: Status | None = None, limit: int = 100) -> builtins.list[Incident]: ...
    def unresolved(self) -> builtins.list[Incident]: ...
    def close(self) -> None: ...


class MetaIncidentStore:
    """IncidentStore on the metadata store: one row per incident, its record (timeline) as JSON.

    `owned`: the store opened `meta` for itself and closes it on `close()`.
    """

    def __init__(self, meta: MetaDB, *, owned: bool = False) -> None:
        self.meta, self.owned = meta, owned

    def close(self) -> None:
        if self.owned:
            self.meta.close()

    def next_id(self) -> int:
        with self.meta.session() as session:
            return int(session.scalar(select(func.coalesce(func.max(IncidentRow.id), 0))) or 0) + 1

    def put(self, incident: Incident) -> None:
        row = {"id": incident.id, "status": incident.status, "started_at": incident.started_at,
               "last_event_at": incident.last_event_at, "doc": incident.to_dict()}  # fmt: skip
        with self.meta.connect() as conn, conn.begin():
            conn.execute(self.meta.upsert(IncidentRow.__table__, row, ["id"]))  # type: ignore[arg-type]

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
