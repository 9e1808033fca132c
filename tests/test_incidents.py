"""Incidents: grouping of alerts and anomalies, timeline, status, store, HTTP API and CLI."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from openmanager.analytics.rca import Topology
from openmanager.analytics.rca.incident import Event
from openmanager.api.app import create_app
from openmanager.cli.main import app as cli_app
from openmanager.config import load_settings
from openmanager.config.settings import IncidentSettings
from openmanager.errors import Conflict, InvalidInput, NotFound
from openmanager.logs.record import LogRecord
from openmanager.meta.db import open_meta
from openmanager.promql.memstore import MemoryStorage
from openmanager.rules.outbound import PostableAlert
from openmanager.samples import SampleBatch, make_labels
from openmanager.services.alert_events import AlertEvents
from openmanager.services.incident_store import MetaIncidentStore
from openmanager.services.incidents import IncidentService
from openmanager.services.platform import Platform
from openmanager.services.query import QueryService
from openmanager.tsdb.storage import Storage
from tests.helpers import serve_app

T0 = 1_800_000_000.0
DEPS = {"web-1": ["api-1"], "api-1": ["db-1"], "batch-1": []}


class Clock:
    """A settable clock."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _service(tmp_path: Path, clock: Clock, **kwargs: Any) -> IncidentService:
    store = MetaIncidentStore(open_meta("", tmp_path), owned=True)
    return IncidentService(
        store, settings=IncidentSettings(dependencies=DEPS), topology=Topology(DEPS),
        clock=clock, **kwargs,
    )  # fmt: skip


def _anomaly(server: str, at: float, check: str = "cpu", **labels: str) -> dict[str, Any]:
    return {
        "series": {"instance": f"{server}:9100", **labels},
        "check": check,
        "window_end": at,
        "observed": 0.9,
        "expected": 0.2,
        "score": 0.8,
        "promql": f'abs((x{{instance="{server}:9100"}}) - 0.2) > 0.1',
    }


def _rules_sender(svc: IncidentService, clock: Clock) -> AlertEvents:
    """What the platform wires: the rule engine's sender publishes alert changes to incidents."""
    return AlertEvents(lambda channel, payload: svc.on_alert(payload), None, clock)


def _alert(server: str, name: str, starts: float, ends: float) -> PostableAlert:
    return PostableAlert(
        labels={"alertname": name, "server": server, "severity": "warning"},
        annotations={"summary": f"{name} on {server}"},
        starts_at=datetime.fromtimestamp(starts, UTC),
        ends_at=datetime.fromtimestamp(ends, UTC),
    )


def test_related_events_group_into_one_incident_unrelated_ones_do_not(tmp_path: Path) -> None:
    clock = Clock(T0)
    svc = _service(tmp_path, clock)
    first = svc.on_anomaly(_anomaly("db-1", T0))
    assert first is not None and first.status == "open"
    # web-1 calls api-1 calls db-1: a fault on db-1 reaches web-1
    clock.t = T0 + 120
    _rules_sender(svc, clock).send([_alert("web-1", "SlowResponses", T0 + 100, T0 + 3600)])
    assert len(svc.list()) == 1
    other = svc.on_anomaly(_anomaly("batch-1", T0 + 130))
    assert other is not None and other.id != first.id
    # too late for the first incident's grouping window (15m)
    late = svc.on_anomaly(_anomaly("db-1", T0 + 120 + 16 * 60))
    assert late is not None and late.id not in (first.id, other.id)
    inc = svc.get(first.id)
    assert inc.servers == ("db-1", "web-1")
    assert [e.kind for e in inc.timeline] == ["anomaly", "alert_firing"]
    assert inc.firing and inc.timeline[0].data["promql"].startswith("abs(")


def test_shared_grouping_label_joins_unrelated_servers(tmp_path: Path) -> None:
    svc = _service(tmp_path, Clock(T0))
    a = svc.on_anomaly(_anomaly("batch-1", T0, service="checkout"))
    b = svc.on_anomaly(_anomaly("web-1", T0 + 60, service="checkout"))
    c = svc.on_anomaly(_anomaly("mail-1", T0 + 60, service="search"))
    assert a is not None and b is not None and c is not None
    assert a.id == b.id and c.id != a.id


def test_resent_alerts_are_not_repeated_and_quiet_incident_resolves(tmp_path: Path) -> None:
    clock = Clock(T0)
    svc = _service(tmp_path, clock)
    sender = _rules_sender(svc, clock)
    for _ in range(3):  # rules resend a firing alert every evaluation
        sender.send([_alert("api-1", "HighCPU", T0, T0 + 3600)])
    (inc,) = svc.list()
    assert len(inc.timeline) == 1 and inc.firing
    clock.t = T0 + 30 * 60
    assert svc.tick() == []  # still firing: stays open however quiet
    sender.send([_alert("api-1", "HighCPU", T0, T0 + 30 * 60 - 1)])
    assert svc.get(inc.id).firing == ()
    clock.t = T0 + 30 * 60 + 16 * 60
    (resolved,) = svc.tick()
    assert resolved.status == "resolved" and resolved.resolved_at == clock.t
    kinds = [e.kind for e in resolved.timeline]
    assert kinds == ["alert_firing", "alert_resolved", "recovery", "resolved"]
    assert svc.list("open") == [] and [i.id for i in svc.list("resolved")] == [inc.id]


def test_ack_and_resolve_by_hand_and_bad_input(tmp_path: Path) -> None:
    svc = _service(tmp_path, Clock(T0))
    inc = svc.on_anomaly(_anomaly("db-1", T0))
    assert inc is not None
    acked = svc.acknowledge(inc.id, "alice")
    assert acked.status == "acknowledged" and acked.acknowledged_by == "alice"
    assert svc.resolve(inc.id, "bob").status == "resolved"
    with pytest.raises(Conflict):
        svc.acknowledge(inc.id, "carol")
    with pytest.raises(NotFound):
        svc.get(999)
    with pytest.raises(InvalidInput, match="open, acknowledged, resolved"):
        svc.list("closed")


def test_incidents_survive_a_restart_of_the_store(tmp_path: Path) -> None:
    svc = _service(tmp_path, Clock(T0))
    inc = svc.on_anomaly(_anomaly("db-1", T0))
    assert inc is not None
    svc.close()
    again = _service(tmp_path, Clock(T0))
    assert again.get(inc.id) == inc
    again.close()


def test_process_restart_lands_on_the_timeline(tmp_path: Path) -> None:
    store = MemoryStorage()
    restart = T0 + 90
    ts = np.arange(int(T0 * 1000) - 600_000, int(T0 * 1000) + 600_001, 15_000, dtype=np.int64)
    vals = np.where(ts >= restart * 1000, restart, T0 - 86_400.0)
    lbl = make_labels("process_start_time_seconds", [("server", "db-1"), ("job", "service")])
    store.append(SampleBatch([lbl], np.zeros(len(ts), np.int64), ts, vals.astype(float)))
    boot = make_labels("node_boot_time_seconds", [("server", "db-1"), ("job", "node")])
    booted = np.full(len(ts), T0 - 30 * 86_400.0)  # no reboot: nothing to add
    store.append(SampleBatch([boot], np.zeros(len(ts), np.int64), ts, booted))
    clock = Clock(T0 + 300)
    svc = _service(tmp_path, clock, queries=QueryService(cast(Storage, store)))
    inc = svc.on_anomaly(_anomaly("db-1", T0))
    assert inc is not None
    svc.tick()
    svc.tick()  # a second look adds nothing new
    changes = [e for e in svc.get(inc.id).timeline if e.kind == "change"]
    assert len(changes) == 1 and changes[0].at == restart and changes[0].server == "db-1"
    assert changes[0].text == "process (re)started on db-1"


# ---------------------------------------------------------------- HTTP API and CLI


def _platform(tmp_path: Path) -> Platform:
    settings = load_settings(
        None,
        {
            "profile": "test",
            "storage": {"path": str(tmp_path / "data")},
            "simulator": {"enabled": False},
            "incidents": {"dependencies": DEPS},
        },
    )
    return Platform(settings)


@pytest.fixture
def platform(tmp_path: Path) -> Platform:
    return _platform(tmp_path)


def test_api_round_trip(platform: Platform) -> None:
    with TestClient(create_app(platform)) as client:
        platform.incidents.add(Event("anomaly", time.time(), "k", ("db-1",), "cpu high"))
        rows = client.get("/api/v1/incidents").json()["data"]
        assert len(rows) == 1 and rows[0]["status"] == "open" and "timeline" not in rows[0]
        ident = rows[0]["id"]
        got = client.get(f"/api/v1/incidents/{ident}").json()["data"]
        assert got["timeline"][0]["text"] == "cpu high" and got["causes"] == []
        acked = client.post(f"/api/v1/incidents/{ident}/ack", json={"by": "alice"}).json()
        assert acked["data"]["status"] == "acknowledged"
        assert client.get("/api/v1/incidents?status=acknowledged").json()["data"][0]["id"] == ident
        done = client.post(f"/api/v1/incidents/{ident}/resolve").json()["data"]
        assert done["status"] == "resolved" and done["timeline"][-1]["text"] == "resolved by api"
        missing = client.get("/api/v1/incidents/4242")
        assert missing.status_code == 404 and missing.json()["status"] == "error"
        assert client.get("/api/v1/incidents?status=nope").status_code == 400
        assert client.post(f"/api/v1/incidents/{ident}/ack").status_code == 409


def test_incident_timeline_carries_its_servers_log_lines(platform: Platform) -> None:
    """Warning and error lines of the incident's servers from shortly before it began are
    placed on its timeline in time order; info lines and other servers' lines are not."""
    assert platform.logs is not None
    now = time.time()
    now_ms = int(now * 1000)
    platform.logs.write([
        LogRecord(now_ms - 120_000, "db-1", "error", "postgresql", "No space left on device"),
        LogRecord(now_ms - 60_000, "db-1", "info", "postgresql", "checkpoint complete"),
        LogRecord(now_ms - 60_000, "web-9", "error", "nginx", "upstream timed out"),
    ])  # fmt: skip
    with TestClient(create_app(platform)) as client:
        platform.incidents.add(Event("anomaly", now, "k", ("db-1",), "disk filling"))
        ident = client.get("/api/v1/incidents").json()["data"][0]["id"]
        timeline = client.get(f"/api/v1/incidents/{ident}").json()["data"]["timeline"]
        assert [(e["kind"], e["text"]) for e in timeline] == [
            ("log", "error: No space left on device"),
            ("anomaly", "disk filling"),
        ]
        assert timeline[0]["server"] == "db-1" and timeline[0]["data"]["source"] == "postgresql"
        bare = client.get(f"/api/v1/incidents/{ident}?logs=0").json()["data"]["timeline"]
        assert [e["kind"] for e in bare] == ["anomaly"]


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli_app, list(args))
    return result.exit_code, result.output


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Platform]]:
    platform = _platform(tmp_path)
    with serve_app(create_app(platform)) as url:
        yield url, platform


def test_cli_against_a_running_server(served: tuple[str, Platform]) -> None:
    url, platform = served
    platform.incidents.add(Event("anomaly", time.time(), "k", ("api-1",), "latency high"))
    code, out = _invoke("incidents", "list", "--json", "--url", url)
    assert code == 0, out
    (row,) = json.loads(out)
    code, out = _invoke("incidents", "show", str(row["id"]), "--url", url)
    assert code == 0 and "latency high" in out and "api-1" in out
    assert _invoke("incidents", "ack", str(row["id"]), "--url", url, "--by", "me")[0] == 0
    assert platform.incidents.get(row["id"]).acknowledged_by == "me"
    assert _invoke("incidents", "resolve", str(row["id"]), "--url", url)[0] == 0
    assert platform.incidents.get(row["id"]).status == "resolved"
    code, out = _invoke("incidents", "show", "777", "--url", url)
    assert code == 1 and "no incident 777" in out


def test_cli_on_the_local_store(tmp_path: Path) -> None:
    config = tmp_path / "om.yml"
    config.write_text(f"storage:\n  path: {tmp_path / 'data'}\n")
    meta = open_meta("", tmp_path / "data")  # the store `serve` would share with the CLI
    svc = IncidentService.open(IncidentSettings(), meta)
    svc.add(Event("anomaly", T0, "k", ("db-1",), "disk filling"))
    svc.close()
    meta.close()
    code, out = _invoke("incidents", "list", "-c", str(config))
    assert code == 0 and "disk filling" in out
    assert _invoke("incidents", "resolve", "1", "-c", str(config))[0] == 0
    code, out = _invoke("incidents", "show", "1", "--json", "-c", str(config))
    assert code == 0 and json.loads(out)["status"] == "resolved"
    code, out = _invoke("incidents", "list", "--status", "bogus", "-c", str(config))
    assert code == 1 and "unknown incident status" in out


def test_platform_feeds_rule_alerts_and_anomalies_into_incidents(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(
        "groups:\n  - name: g\n    rules:\n      - alert: DbDown\n        expr: vector(1)\n"
        "        labels: {server: db-1, severity: page}\n"
        "        annotations: {summary: database down}\n"
    )
    settings = load_settings(
        None,
        {
            "profile": "test",
            "storage": {"path": str(tmp_path / "data")},
            "simulator": {"enabled": False},
            "rules": {"files": [str(rules)]},
            "incidents": {"dependencies": DEPS},
        },
    )
    platform = Platform(settings)
    try:
        assert platform.rules.reload().error is None
        platform.rules.tick()
        platform.rules.tick()  # resent, not repeated
        (inc,) = platform.incidents.list()
        assert [e.kind for e in inc.timeline] == ["alert_firing"]
        assert inc.servers == ("db-1",) and "database down" in inc.timeline[0].text
        platform.anomalies.publish(  # what the anomaly job does when a check fires
            "anomalies", _anomaly("web-1", time.time())
        )
        assert [i.id for i in platform.incidents.list()] == [inc.id]
        assert platform.incidents.get(inc.id).servers == ("db-1", "web-1")
    finally:
        platform.notify.close()
        platform.incidents.close()
        platform.storage.close()
