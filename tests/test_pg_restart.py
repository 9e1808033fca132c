"""PostgreSQL (the metadata store, a private server) restarted under a running instance.

While it is down the instance stays up: /-/ready says `metadata` is down (still 200), alerts
are still notified (silences served as last known), writes nobody waits for (a silence, the
alert history, the notification record) are queued and land once it is back, and a write
that needs the database's answer (an API key) is refused with 503 rather than acknowledged
and lost. After the restart everything written is in PostgreSQL and new writes work again.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.cluster import Start, platform, wait_until
from tests.metadb import PrivatePostgres
from tests.notify.conftest import Sink

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def sink() -> Iterator[Sink]:
    s = Sink()
    yield s
    s.close()


def silence(client: TestClient, name: str) -> str:
    body = {
        "matchers": [{"name": "alertname", "value": name, "isRegex": False}],
        "endsAt": "2099-01-01T00:00:00Z",
        "createdBy": "test",
        "comment": name,
    }
    r = client.post("/api/v1/silences", json=body)
    assert r.status_code == 200, r.text
    return str(r.json()["data"]["silenceID"])


def fire(client: TestClient, name: str) -> None:
    ends = datetime.fromtimestamp(time.time() + 3600, UTC).isoformat()
    alert = {"labels": {"alertname": name, "severity": "page"}, "endsAt": ends}
    r = client.post("/api/v2/alerts", json=[alert])
    assert r.status_code == 200, r.text


def rows(url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url, connect_timeout=5) as conn:
        return list(conn.execute(sql).fetchall())


def test_instance_survives_postgres_restart_and_loses_no_write(
    start_instance: Start, private_postgres: PrivatePostgres, tmp_path: Path, sink: Sink
) -> None:
    am = tmp_path / "am.yml"
    am.write_text(
        "route:\n  receiver: hook\n  group_wait: 0s\n  group_interval: 1s\n"
        "  group_by: [alertname]\n"
        f"receivers:\n  - name: hook\n    webhook_configs: [{{url: '{sink.url}/hook'}}]\n"
    )
    client = start_instance(
        meta={"url": private_postgres.url}, notify={"config_file": str(am), "timeout": "2s"}
    )
    meta = platform(client).meta
    before_id = silence(client, "Before")
    assert client.get("/-/ready").text == "OpenManager is Ready.\n"

    private_postgres.stop()
    during_id = silence(client, "During")  # acknowledged: queued until the store is back
    assert meta.retry.pending >= 1
    ready = client.get("/-/ready")
    assert ready.status_code == 200, "a missing metadata store degrades the instance"
    assert ready.headers["X-OpenManager-Degraded"] == "metadata"
    key = client.post("/api/v1/admin/keys", json={"name": "during", "role": "viewer"})
    assert key.status_code == 503, "a key the store cannot confirm is refused, not lost"
    assert 'openmanager_dependency_up{dependency="metadata"} 0.0' in client.get("/metrics").text
    # Notifications go on: an alert fired now is delivered, a silenced one is held back.
    fire(client, "DuringOutage")
    fire(client, "During")
    wait_until(lambda: sink.bodies, timeout_s=20, what="a notification while PostgreSQL is down")
    silenced = {s["id"] for s in client.get("/api/v1/silences").json()["data"]}
    assert {before_id, during_id} <= silenced, "silences are served from memory"
    time.sleep(1.5)  # another flush: the silenced alert stays silent
    assert [b["alerts"][0]["labels"]["alertname"] for b in sink.bodies] == ["DuringOutage"]

    private_postgres.start()
    wait_until(lambda: meta.retry.pending == 0, timeout_s=20, what="queued writes to land")
    wait_until(lambda: client.get("/-/ready").text == "OpenManager is Ready.\n", what="ready")
    made = client.post("/api/v1/admin/keys", json={"name": "after", "role": "viewer"})
    assert made.status_code == 200, made.text

    # Everything acknowledged is in PostgreSQL now.
    url = private_postgres.url
    assert {r[0] for r in rows(url, "SELECT id FROM silences")} == {before_id, during_id}
    episodes = rows(url, "SELECT alertname FROM episodes ORDER BY alertname")
    assert [e[0] for e in episodes] == ["During", "DuringOutage"]
    sent = rows(url, "SELECT receiver, status FROM notifications")
    assert sent == [("hook", "sent")]
    assert [r[0] for r in rows(url, "SELECT name FROM api_keys")] == ["after"]
    (episode,) = client.get("/api/v1/alerts/history?alertname=DuringOutage").json()["data"]
    assert episode["notificationsPerReceiver"] == {"hook": {"sent": 1, "failed": 0}}
