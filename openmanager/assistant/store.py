"""Assistant interactions (question, evidence, answer, latency, rating) on the metadata store."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, update

from openmanager.errors import InvalidInput, NotFound
from openmanager.meta.db import MetaDB
from openmanager.meta.models import InteractionRow

COLUMNS = ("id", "at", "question", "language", "narrator", "note", "answer", "evidence",
           "latency_ms", "rating", "comment")  # fmt: skip
RATINGS = range(1, 6)


class InteractionStore:
    """Table ``assistant_interactions``; shared by every instance on the same metadata store.

    `owned`: the store opened `meta` for itself and closes it on `close()`.
    """

    def __init__(self, meta: MetaDB, *, owned: bool = False) -> None:
        self.meta, self.owned = meta, owned

    def add(self, record: dict[str, Any]) -> str:
        """Store one interaction; returns its id."""
        ident = str(record.get("id") or uuid.uuid4().hex[:16])
        row = InteractionRow(**{c: record[c] for c in COLUMNS[1:9]}, id=ident)
        with self.meta.session() as session, session.begin():
            session.add(row)
        return ident

    def rate(self, ident: str, rating: int, comment: str = "") -> None:
        """Record the user's rating (1 = useless .. 5 = solved it)."""
        if rating not in RATINGS:
            raise InvalidInput(f"rating must be 1 to 5, got {rating}")
        stmt = (
            update(InteractionRow)
            .where(InteractionRow.id == ident)
            .values(rating=rating, comment=comment)
        )
        with self.meta.session() as session, session.begin():
            found = session.execute(stmt).rowcount  # type: ignore[attr-defined]
        if not found:
            raise NotFound(f"no interaction {ident!r}")

    def get(self, ident: str) -> dict[str, Any]:
        """One interaction with its evidence, or NotFound."""
        with self.meta.session() as session:
            row = session.get(InteractionRow, ident)
            if row is None:
                raise NotFound(f"no interaction {ident!r}")
            return self._dict(row)

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        """Newest interactions first (evidence left out)."""
        q = select(InteractionRow).order_by(InteractionRow.at.desc()).limit(limit)
        with self.meta.session() as session:
            rows = session.scalars(q).all()
            return [{k: v for k, v in self._dict(r).items() if k != "evidence"} for r in rows]

    @staticmethod
    def _dict(row: InteractionRow) -> dict[str, Any]:
        return {c: getattr(row, c) for c in COLUMNS}

    def close(self) -> None:
        """Close the metadata store if this store opened it."""
        if self.owned:
            self.meta.close()
