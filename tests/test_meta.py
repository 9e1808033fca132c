"""The metadata store on SQLite and on the real PostgreSQL: migrations, notify state, shared silences."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select

from openmanager.api.app import create_app
from openmanager.config import load_settings
from openmanager.config.settings import NotifySettings
from openmanager.errors import ConfigError
from openmanager.meta import MetaDB, open_meta
from openmanager.meta.inventory import ServerRecord, record_servers, servers
from openmanager.meta.migrate import current_revision, head_revision
from openmanager.meta.models import Base, IncidentRow, InteractionRow, ModelVersion, Server
from openmanager.notify.matchers import parse_matchers
from openmanager.notify.silences import new_silence
from openmanager.notify.store import NotificationRecord, SqliteNotifyStore, SqlNotifyStore
from openmanager.services.notify import NotifyService
from openmanager.services.platform import Platform
from tests.metadb import MetaBackend
from tests.notify.conftest import Clock, Sink, alert


def _open(backend: MetaBackend, tmp_path: Path) -> MetaDB:
    return open_meta(backend.url, tmp_path, pg_schema=backend.pg_schema)


@pytest.fixture
def sink() -> Iterator[Sink]:
    s = Sink()
    yield s
    s.close()


@pytest.fixture
def db(meta_backend: MetaBackend, tmp_path: Path) -> Iterator[MetaDB]:
    d = _open(meta_backend, tmp_path)
    yield d
    d.close()


def test_migrations_create_exactly_the_models(db: MetaDB, meta_backend: MetaBackend) -> None:
    assert db.dialect == meta_backend.kind
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        assert current_revision(conn) == head_revision() is not None
        tables = set(inspect(conn).get_table_names())
    expected = {
        "servers", "silences", "episodes", "notifications", "notification_episodes", "nflog",
        "users", "api_keys", "model_versions", "incidents", "assistant_interactions",
    }  # fmt: skip
    assert expected <= tables


def test_reopening_is_a_no_op_and_keeps_data(
    db: MetaDB, meta_backend: MetaBackend, tmp_path: Path
) -> None:
    with db.session() as ses, ses.begin():
        ses.add(Server(name="web-01", environment="aws", role="web", labels={"az": "a"},
                       first_seen=1.0, last_seen=2.0))  # fmt: skip
    again = _open(meta_backend, tmp_path)
    try:
        with again.session() as ses:
            (server,) = ses.scalars(select(Server)).all()
        assert (server.name, server.labels) == ("web-01", {"az": "a"})
    finally:
        again.close()


def test_other_tables_round_trip_json(db: MetaDB) -> None:
    with db.session() as ses, ses.begin():
        ses.add(ModelVersion(name="cpu-iforest", version=1, kind="iforest", stage="production",
                             params={"trees": 100}, metrics={"f1": 0.81}, artifact="models/1",
                             created_at=10.0))  # fmt: skip
        ses.add(IncidentRow(id=1, status="open", started_at=5.0, last_event_at=6.0,
                            doc={"title": "disk full on db-primary-01"}))  # fmt: skip
        ses.add(InteractionRow(id="q1", at=6.0, question="why slow?", language="en",
                               narrator="template", note="", answer="disk", latency_ms=3.5,
                               evidence={"queries": ["up"]}))  # fmt: skip
    with db.session() as ses:
        mv = ses.scalars(select(ModelVersion)).one()
        inc = ses.scalars(select(IncidentRow)).one()
        qa = ses.scalars(select(InteractionRow)).one()
    assert mv.params == {"trees": 100} and mv.metrics == {"f1": 0.81}
    assert inc.doc == {"title": "disk full on db-primary-01"} and inc.last_event_at == 6.0
    assert qa.evidence == {"queries": ["up"]} and qa.rating is None


def test_notify_store_silences_history_log_prune(db: MetaDB) -> None:
    store = SqlNotifyStore(db)
    s = new_silence(parse_matchers('alertname="Disk", instance=~"db.*"'), 100, 200, "me", "c", 50)
    store.put_silence(s)
    store.put_silence(s)  # the same id again replaces, not duplicates
    (got,) = store.silences()
    assert got == s
    store.open_episode("fp1", {"alertname": "Disk", "instance": "db-1"}, {"summary": "x"}, 110)
    store.open_episode("fp1", {"alertname": "Disk"}, {}, 111)  # already open: ignored
    store.record_notification(
        NotificationRecord("hook", "webhook", "{}:{}", 112, "sent", 1, "", ["fp1"], [])
    )
    store.set_flapping("fp1", True)
    store.resolve_episode("fp1", 150)
    store.record_notification(
        NotificationRecord("hook", "webhook", "{}:{}", 151, "failed", 3, "boom", [], ["fp1"])
    )
    (ep,) = store.history(alertname="Disk", since=None, until=None, limit=10)
    assert ep["labels"] == {"alertname": "Disk", "instance": "db-1"}
    assert ep["durationSeconds"] == 40.0 and ep["flapping"] is True
    assert ep["notificationsPerReceiver"] == {"hook": {"sent": 1, "failed": 1}}
    assert [n["alertState"] for n in ep["notifications"]] == ["firing", "resolved"]
    assert store.history(alertname="Other", since=None, until=None, limit=10) == []
    assert store.history(alertname=None, since=160, until=None, limit=10) == []
    store.put_log(("g", "hook", 0), ["b", "a"], [], 120)
    store.put_log(("g", "hook", 0), ["a"], ["b"], 130)
    assert store.logs() == {("g", "hook", 0): (["a"], ["b"], 130.0)}
    assert store.prune(before=250) == 1
    assert store.history(alertname=None, since=None, until=None, limit=10) == []
    assert store.logs() == {} and store.silences() == []


def test_two_instances_share_silences_and_honour_them(
    meta_backend: MetaBackend, tmp_path: Path, sink: Sink
) -> None:
    """A silence made through instance A mutes the alert on instance B (one shared store)."""
    clock = Clock()
    cfg = tmp_path / "am.yml"
    cfg.write_text(
        "route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 0s\n"
        f"receivers:\n  - name: hook\n    webhook_configs: [{{url: '{sink.url}/hook'}}]\n"
    )
    dbs = [_open(meta_backend, tmp_path / n) for n in ("a", "b")]
    a, b = (
        NotifyService(
            NotifySettings(config_file=cfg), tmp_path, clock=clock, store=SqlNotifyStore(d)
        )
        for d in dbs
    )
    try:
        s = a.add_silence(parse_matchers('alertname="Noisy"'), starts_at=None,
                          ends_at=clock() + 3600, created_by="ops", comment="")  # fmt: skip
        assert [x.id for x in b.silences()] == [s.id]
        b.send([alert(clock, alertname="Noisy"), alert(clock, alertname="Real")])
        clock.advance(1)
        b.tick()
        assert b.delivery.drain(10)
        assert [x["groupLabels"]["alertname"] for x in sink.bodies] == ["Real"]
        muted = {x["labels"]["alertname"]: x["mutedBy"] for x in b.alerts()}
        assert muted == {"Noisy": f"silenced:{s.id}", "Real": None}
        b.expire_silence(s.id)
        assert a.silence(s.id).state(clock()) == "expired"
    finally:
        for svc in (a, b):
            svc.close()
        for d in dbs:
            d.close()


def test_concurrent_starts_migrate_once(meta_backend: MetaBackend, tmp_path: Path) -> None:
    if meta_backend.kind != "postgresql":
        pytest.skip("several instances share a store only on PostgreSQL")
    opened: list[MetaDB] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            opened.append(_open(meta_backend, tmp_path))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for d in opened:
        d.close()
    assert errors == [] and len(opened) == 4


OLD_NOTIFY_SCHEMA = """
CREATE TABLE silences (id TEXT PRIMARY KEY, matchers TEXT NOT NULL, starts_at REAL NOT NULL,
  ends_at REAL NOT NULL, created_by TEXT NOT NULL, comment TEXT NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE episodes (id INTEGER PRIMARY KEY AUTOINCREMENT, fingerprint TEXT NOT NULL,
  alertname TEXT NOT NULL, labels TEXT NOT NULL, annotations TEXT NOT NULL, fired_at REAL NOT NULL,
  resolved_at REAL, flapping INTEGER NOT NULL DEFAULT 0);
CREATE INDEX episodes_fp ON episodes (fingerprint, resolved_at);
CREATE TABLE nflog (group_key TEXT NOT NULL, receiver TEXT NOT NULL, idx INTEGER NOT NULL,
  firing TEXT NOT NULL, resolved TEXT NOT NULL, at REAL NOT NULL,
  PRIMARY KEY (group_key, receiver, idx));
INSERT INTO silences VALUES ('s1', '[["alertname", "=", "X"]]', 1, 9e9, 'me', 'kept', 1);
"""


def test_notify_db_from_before_the_meta_store_upgrades_in_place(tmp_path: Path) -> None:
    path = tmp_path / "notify.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(OLD_NOTIFY_SCHEMA)
    store = SqliteNotifyStore(path)
    try:
        (s,) = store.silences()
        assert s.id == "s1" and s.comment == "kept" and str(s.matchers[0]) == 'alertname="X"'
        with store.db.engine.connect() as conn:
            assert current_revision(conn) == head_revision()
    finally:
        store.close()


@pytest.mark.parametrize(
    ("url", "schema", "message"),
    [
        ("mysql://x@h/db", "", "not supported"),
        ("not a url", "", "not a database URL"),
        ("postgresql://x@h/db", "bad-name;", "plain SQL identifier"),
    ],
)
def test_bad_store_settings_are_named(url: str, schema: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=message):
        open_meta(url, tmp_path, pg_schema=schema)


def test_servers_inventory_keeps_first_seen(db: MetaDB) -> None:
    record_servers(db, [ServerRecord("db-1", "aws", "database"), ServerRecord("web-1")], 100.0)
    record_servers(db, [ServerRecord("db-1", "aws", "database", {"az": "b"})], 200.0)
    rows = {r["name"]: r for r in servers(db)}
    assert rows["db-1"]["first_seen"] == 100.0 and rows["db-1"]["last_seen"] == 200.0
    assert rows["db-1"]["labels"] == {"az": "b"} and rows["web-1"]["last_seen"] == 100.0


def test_platform_records_the_simulated_fleet(meta_backend: MetaBackend, tmp_path: Path) -> None:
    conf = load_settings(
        None,
        {
            "profile": "test",
            "storage": {"path": str(tmp_path / "data")},
            "meta": meta_backend.settings(),
        },
    )
    with TestClient(create_app(Platform(conf))) as client:
        assert client.get("/-/ready").status_code == 200
        inventory = servers(client.app.state.platform.meta)  # type: ignore[attr-defined]
    assert len(inventory) == 20
    db_primary = next(r for r in inventory if r["name"] == "db-primary-01")
    assert db_primary["role"] == "database" and db_primary["labels"] == {"source": "simulator"}


def test_two_instances_share_incidents_and_assistant_interactions(
    meta_backend: MetaBackend, tmp_path: Path
) -> None:
    """An incident opened and an answer rated through instance A are seen and changed on B."""
    from openmanager.analytics.rca.incident import Event
    from openmanager.assistant.store import InteractionStore
    from openmanager.config.settings import IncidentSettings
    from openmanager.services.incidents import IncidentService

    dbs = [_open(meta_backend, tmp_path / n) for n in ("a", "b")]
    now = [1_700_000_000.0]
    a, b = (IncidentService.open(IncidentSettings(), d, clock=lambda: now[0]) for d in dbs)
    qa, qb = (InteractionStore(d) for d in dbs)
    try:
        opened = a.add(Event("alert_firing", now[0], "DiskFull", ("db-1",), "disk full on db-1"))
        assert opened is not None
        assert [i.id for i in b.list()] == [opened.id]
        b.acknowledge(opened.id, by="ops")
        assert a.get(opened.id).status == "acknowledged"
        ident = qa.add({"at": now[0], "question": "why?", "language": "en", "narrator": "template",
                        "note": "", "answer": "disk", "evidence": {"facts": [1]},
                        "latency_ms": 2.0})  # fmt: skip
        qb.rate(ident, 5, "solved")
        assert qa.get(ident)["rating"] == 5 and qa.get(ident)["evidence"] == {"facts": [1]}
    finally:
        for svc in (a, b):
            svc.close()
        for d in dbs:
            d.close()


def test_closed_store_drops_late_writes_and_bad_sql_is_not_an_outage(tmp_path: Path) -> None:
    """A write after shutdown must not re-create a removed SQLite file (seen as an embedding
    process's temp dir that would not delete); a missing table fails at once, never queued."""
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from openmanager.errors import Unavailable

    db = open_meta("", tmp_path)

    def bad_sql() -> None:
        with db.connect() as conn:
            conn.execute(text("SELECT * FROM no_such_table"))

    with pytest.raises(OperationalError):
        db.retry.write(bad_sql)
    assert db.retry.pending == 0
    db.close()
    for f in tmp_path.glob("meta.db*"):
        f.unlink()
    wrote: list[int] = []
    db.retry.write(lambda: wrote.append(1))
    assert wrote == [] and db.retry.pending == 0
    with pytest.raises(Unavailable):
        db.retry.call(lambda: 1)
    with pytest.raises(Unavailable):
        db.session()  # direct users (anomaly store, incidents) are refused too
    assert list(tmp_path.glob("meta.db*")) == []


def test_instances_creating_incidents_at_once_never_overwrite_each_other(
    meta_backend: MetaBackend, tmp_path: Path
) -> None:
    """B takes the id A just picked: A's insert fails and A stores under the next id instead."""
    from openmanager.analytics.rca.incident import Event, new_incident
    from openmanager.services.incident_store import MetaIncidentStore

    dbs = [_open(meta_backend, tmp_path / n) for n in ("a", "b")]
    a, b = (MetaIncidentStore(d) for d in dbs)
    first = Event("alert_firing", 1.0, "DiskFull", ("db-1",), "disk full on db-1")
    other = Event("alert_firing", 1.0, "CpuHigh", ("web-1",), "cpu high on web-1")
    tried: list[int] = []

    def racing(ident: int) -> Any:
        if not tried:  # between A's read of the next id and its insert, B stores that id
            b.create(lambda i: new_incident(i, other))
        tried.append(ident)
        return new_incident(ident, first)

    try:
        made = a.create(racing)
        assert tried == [1, 2] and made.id == 2
        assert {i.id: i.title for i in b.list()} == {
            1: "cpu high on web-1 (web-1)",
            2: "disk full on db-1 (db-1)",
        }
    finally:
        for d in dbs:
            d.close()
