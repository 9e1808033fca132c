"""The servers inventory: which servers exist, where and in what role, first and last seen."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import select

from openmanager.meta.db import MetaDB
from openmanager.meta.models import Server


@dataclass(frozen=True)
class ServerRecord:
    """One inventory entry as sources report it."""

    name: str
    environment: str = ""
    role: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)


def record_servers(db: MetaDB, servers: Iterable[ServerRecord], now: float) -> int:
    """Insert new servers, refresh known ones (first_seen kept); returns how many were written."""
    count = 0
    with db.engine.begin() as conn:
        for s in servers:
            row = {
                "name": s.name,
                "environment": s.environment,
                "role": s.role,
                "labels": dict(s.labels),
                "first_seen": now,
                "last_seen": now,
            }
            table = Server.__table__
            conn.execute(db.upsert(table, row, ["name"], keep=["first_seen"]))  # type: ignore[arg-type]
            count += 1
    return count


def servers(db: MetaDB) -> list[dict[str, object]]:
    """The inventory, by name."""
    with db.session() as ses:
        rows = ses.scalars(select(Server).order_by(Server.name)).all()
    return [
        {
            "name": r.name,
            "environment": r.environment,
            "role": r.role,
            "labels": r.labels,
            "first_seen": r.first_seen,
            "last_seen": r.last_seen,
        }
        for r in rows
    ]
