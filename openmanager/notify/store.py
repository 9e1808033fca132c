"""Where notify state lives: silences and alert history in the metadata store (SQLite or PostgreSQL).

Instances sharing one PostgreSQL share silences, history and the notification log.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import delete, func, insert, select, update

from openmanager.errors import Unavailable
from openmanager.meta.db import MetaDB, open_meta
from openmanager.meta.models import (
    Episode,
    NotificationEpisode,
    NotificationLogRow,
    NotificationRow,
    SilenceRow,
)
from openmanager.notify.matchers import Matcher
from openmanager.notify.model import iso
from openmanager.notify.silences import Silence


@dataclass(frozen=True)
class NotificationRecord:
    """One delivery attempt outcome for one receiver integration."""

    receiver: str
    integration: str
    group_key: str
    at: float
    status: str  # sent | failed
    attempts: int
    error: str
    firing: Sequence[str]  # fingerprints
    resolved: Sequence[str]


LogKey = tuple[str, str, int]
"""(group key, receiver, integration index): one notification-log entry."""


class NotifyStore(Protocol):
    """Persistence used by the notifier (implemented by SqlNotifyStore)."""

    def put_silence(self, s: Silence) -> None: ...
    def silences(self) -> list[Silence]: ...
    def open_episode(
        self, fp: str, labels: Mapping[str, str], annotations: Mapping[str, str], at: float
    ) -> None: ...
    def resolve_episode(self, fp: str, at: float) -> None: ...
    def set_flapping(self, fp: str, flapping: bool) -> None: ...
    def record_notification(self, rec: NotificationRecord) -> None: ...
    def history(
        self, *, alertname: str | None, since: float | None, until: float | None, limit: int
    ) -> list[dict[str, Any]]: ...
    def put_log(
        self, key: LogKey, firing: Sequence[str], resolved: Sequence[str], at: float
    ) -> None: ...
    def logs(self) -> dict[LogKey, tuple[list[str], list[str], float]]: ...
    def prune(self, before: float) -> int: ...
    def close(self) -> None: ...


_SILENCES = SilenceRow.__table__
_NFLOG = NotificationLogRow.__table__


class SqlNotifyStore:
    """NotifyStore on the metadata store's tables; safe to share between threads."""

    def __init__(self, db: MetaDB, *, owns_db: bool = False) -> None:
        self.db = db
        self._owns_db = owns_db
        self._silences: dict[str, Silence] = {}
        """The silences as last read or written: served while the store is unreachable."""

    # Writes go through the store's queue (meta.retry): applied now, or in order once the
    # store is back, so a restart of PostgreSQL loses none of them.
    def put_silence(self, s: Silence) -> None:
        self._silences[s.id] = s
        self.db.retry.write(lambda: self._put_silence(s))

    def open_episode(
        self, fp: str, labels: Mapping[str, str], annotations: Mapping[str, str], at: float
    ) -> None:
        self.db.retry.write(lambda: self._open_episode(fp, labels, annotations, at))

    def resolve_episode(self, fp: str, at: float) -> None:
        self.db.retry.write(lambda: self._resolve_episode(fp, at))

    def set_flapping(self, fp: str, flapping: bool) -> None:
        self.db.retry.write(lambda: self._set_flapping(fp, flapping))

    def record_notification(self, rec: NotificationRecord) -> None:
        self.db.retry.write(lambda: self._record_notification(rec))

    def put_log(
        self, key: LogKey, firing: Sequence[str], resolved: Sequence[str], at: float
    ) -> None:
        self.db.retry.write(lambda: self._put_log(key, firing, resolved, at))

    def close(self) -> None:
        if self._owns_db:
            self.db.close()

    # silences
    def _put_silence(self, s: Silence) -> None:
        row = {
            "id": s.id,
            "matchers": json.dumps([[m.name, m.op, m.value] for m in s.matchers]),
            "starts_at": s.starts_at,
            "ends_at": s.ends_at,
            "created_by": s.created_by,
            "comment": s.comment,
            "updated_at": s.updated_at,
        }
        with self.db.engine.begin() as conn:
            conn.execute(self.db.upsert(_SILENCES, row, ["id"]))  # type: ignore[arg-type]

    def silences(self) -> list[Silence]:
        """From the store; while it is unreachable (or writes are queued), as last known."""
        if not self.db.retry.pending:
            try:
                rows = self.db.retry.once(self._read_silences)
            except Unavailable:
                pass
            else:
                self._silences = {s.id: s for s in rows}
        return sorted(self._silences.values(), key=lambda s: s.starts_at)

    def _read_silences(self) -> list[Silence]:
        with self.db.session() as ses:
            rows = ses.scalars(select(SilenceRow).order_by(SilenceRow.starts_at)).all()
        return [
            Silence(
                id=r.id,
                matchers=tuple(Matcher.make(*m) for m in json.loads(r.matchers)),
                starts_at=r.starts_at,
                ends_at=r.ends_at,
                created_by=r.created_by,
                comment=r.comment,
                updated_at=r.updated_at,
            )
            for r in rows
        ]

    # history
    def _open_episode(
        self, fp: str, labels: Mapping[str, str], annotations: Mapping[str, str], at: float
    ) -> None:
        with self.db.session() as ses, ses.begin():
            open_id = ses.scalar(
                select(Episode.id)
                .where(Episode.fingerprint == fp, Episode.resolved_at.is_(None))
                .limit(1)
            )
            if open_id is not None:
                return
            ses.add(
                Episode(
                    fingerprint=fp,
                    alertname=labels.get("alertname", ""),
                    labels=json.dumps(dict(labels), sort_keys=True),
                    annotations=json.dumps(dict(annotations), sort_keys=True),
                    fired_at=at,
                    flapping=0,
                )
            )

    def _resolve_episode(self, fp: str, at: float) -> None:
        with self.db.engine.begin() as conn:
            conn.execute(
                update(Episode)
                .where(Episode.fingerprint == fp, Episode.resolved_at.is_(None))
                .values(resolved_at=at)
            )

    def _latest_episode(self, fp: str) -> Any:
        return select(func.max(Episode.id)).where(Episode.fingerprint == fp).scalar_subquery()

    def _set_flapping(self, fp: str, flapping: bool) -> None:
        with self.db.engine.begin() as conn:
            conn.execute(
                update(Episode)
                .where(Episode.id == self._latest_episode(fp))
                .values(flapping=int(flapping))
            )

    def _record_notification(self, rec: NotificationRecord) -> None:
        kind = "firing" if rec.firing else "resolved"
        with self.db.engine.begin() as conn:
            nid = conn.execute(
                insert(NotificationRow)
                .values(
                    receiver=rec.receiver,
                    integration=rec.integration,
                    group_key=rec.group_key,
                    at=rec.at,
                    status=rec.status,
                    attempts=rec.attempts,
                    error=rec.error,
                    kind=kind,
                )
                .returning(NotificationRow.id)
            ).scalar_one()
            links: dict[tuple[int, str], None] = {}
            for state, fps in (("firing", rec.firing), ("resolved", rec.resolved)):
                for fp in fps:
                    eid = conn.execute(select(self._latest_episode(fp))).scalar()
                    if eid is not None:
                        links[(int(eid), state)] = None
            if links:
                conn.execute(
                    insert(NotificationEpisode),
                    [
                        {"notification_id": nid, "episode_id": eid, "state": state}
                        for eid, state in links
                    ],
                )

    # notification log (what each integration was last told, for dedup across restarts)
    def _put_log(
        self, key: LogKey, firing: Sequence[str], resolved: Sequence[str], at: float
    ) -> None:
        row = {
            "group_key": key[0],
            "receiver": key[1],
            "idx": key[2],
            "firing": json.dumps(sorted(firing)),
            "resolved": json.dumps(sorted(resolved)),
            "at": at,
        }
        with self.db.engine.begin() as conn:
            conn.execute(
                self.db.upsert(_NFLOG, row, ["group_key", "receiver", "idx"])  # type: ignore[arg-type]
            )

    def logs(self) -> dict[LogKey, tuple[list[str], list[str], float]]:
        with self.db.session() as ses:
            rows = ses.scalars(select(NotificationLogRow)).all()
        return {
            (r.group_key, r.receiver, int(r.idx)): (
                json.loads(r.firing),
                json.loads(r.resolved),
                r.at,
            )
            for r in rows
        }

    def prune(self, before: float) -> int:
        """Drop resolved episodes, notifications, log entries and silences older than `before`."""
        old = select(Episode.id).where(
            Episode.resolved_at.is_not(None), Episode.resolved_at < before
        )
        with self.db.engine.begin() as conn:
            conn.execute(delete(NotificationEpisode).where(NotificationEpisode.episode_id.in_(old)))
            n = conn.execute(
                delete(Episode).where(
                    Episode.resolved_at.is_not(None), Episode.resolved_at < before
                )
            ).rowcount
            conn.execute(
                delete(NotificationRow).where(
                    NotificationRow.at < before,
                    NotificationRow.id.not_in(select(NotificationEpisode.notification_id)),
                )
            )
            conn.execute(delete(NotificationLogRow).where(NotificationLogRow.at < before))
            conn.execute(delete(SilenceRow).where(SilenceRow.ends_at < before))
        return int(n)

    def history(
        self, *, alertname: str | None, since: float | None, until: float | None, limit: int
    ) -> list[dict[str, Any]]:
        query = select(Episode)
        if alertname:
            query = query.where(Episode.alertname == alertname)
        if since is not None:
            query = query.where(Episode.resolved_at.is_(None) | (Episode.resolved_at >= since))
        if until is not None:
            query = query.where(Episode.fired_at <= until)
        query = query.order_by(Episode.fired_at.desc(), Episode.id.desc()).limit(limit)
        notes_q = (
            select(NotificationRow, NotificationEpisode.episode_id, NotificationEpisode.state)
            .join(NotificationEpisode, NotificationRow.id == NotificationEpisode.notification_id)
            .order_by(NotificationRow.at, NotificationRow.id)
        )

        def read() -> list[dict[str, Any]]:
            with self.db.session() as ses:
                episodes = ses.scalars(query).all()
                ids = [e.id for e in episodes]
                by_episode: dict[int, list[tuple[NotificationRow, str]]] = {i: [] for i in ids}
                if ids:
                    for note, eid, state in ses.execute(
                        notes_q.where(NotificationEpisode.episode_id.in_(ids))
                    ):
                        by_episode[eid].append((note, state))
            return [_episode_json(e, by_episode[e.id]) for e in episodes]

        return self.db.retry.once(read)


def _episode_json(e: Episode, notes: list[tuple[NotificationRow, str]]) -> dict[str, Any]:
    per_receiver: dict[str, dict[str, int]] = {}
    for n, _state in notes:
        counts = per_receiver.setdefault(n.receiver, {"sent": 0, "failed": 0})
        counts[n.status] = counts.get(n.status, 0) + 1
    return {
        "fingerprint": e.fingerprint,
        "labels": json.loads(e.labels),
        "annotations": json.loads(e.annotations),
        "firedAt": iso(e.fired_at),
        "resolvedAt": iso(e.resolved_at) if e.resolved_at is not None else None,
        "durationSeconds": None if e.resolved_at is None else round(e.resolved_at - e.fired_at, 3),
        "flapping": bool(e.flapping),
        "notificationsPerReceiver": per_receiver,
        "notifications": [
            {
                "receiver": n.receiver,
                "integration": n.integration,
                "at": iso(n.at),
                "status": n.status,
                "attempts": n.attempts,
                "error": n.error,
                "alertState": state,
            }
            for n, state in notes
        ],
    }


def SqliteNotifyStore(path: Path | str) -> SqlNotifyStore:  # noqa: N802 - kept constructor name
    """A store in its own SQLite file (tools and tests); `serve` uses the platform's meta store."""
    url = "sqlite://" if str(path) == ":memory:" else f"sqlite:///{path}"
    return SqlNotifyStore(open_meta(url, Path(".")), owns_db=True)
