"""GET /api/v1/logs over a real platform: simulated lines, tailed files, the `logs` channel."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from openmanager.analytics.rca.incident import Event
from openmanager.services.platform import Platform
from tests.api import conftest as api_fixtures
from tests.api.conftest import MakeClient

make_client = api_fixtures.make_client
"""The app factory fixture of the API tests (real Platform over a temp data dir)."""


def platform(client: TestClient) -> Platform:
    p: Platform = client.app.state.platform  # type: ignore[attr-defined]
    return p


def get(client: TestClient, **params: str) -> list[dict[str, object]]:
    resp = client.get("/api/v1/logs", params=params)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["status"] == "success"
    lines: list[dict[str, object]] = body["data"]["lines"]
    return lines


def test_backfilled_simulated_lines_are_searchable(make_client: MakeClient) -> None:
    client = make_client(simulator={"backfill": "30m", "faults": False})
    lines = get(client, limit="10000")
    assert 30 * 20 * 3 < len(lines) < 30 * 20 * 5  # about 4 a minute per server
    times = [int(str(x["time_ms"])) for x in lines]
    assert times == sorted(times, reverse=True)
    assert set(lines[0]) == {"time_ms", "time", "server", "level", "source", "message"}
    one = get(client, server="db-primary-01", since="40m", limit="1000")
    assert one and {x["server"] for x in one} == {"db-primary-01"}
    asc = get(client, server="db-primary-01", order="asc", limit="5")
    assert [x["time_ms"] for x in asc] == sorted(x["time_ms"] for x in one)[:5]  # type: ignore[type-var]
    warn = get(client, level="warning", limit="1000")
    assert all(x["level"] in ("warning", "error", "critical") for x in warn)
    assert get(client, q="Accepted publickey", limit="3")
    assert get(client, q="no such words anywhere") == []
    assert get(client, start="2000-01-01T00:00:00Z", end="2000-01-02T00:00:00Z") == []


def test_a_triggered_fault_shows_up_in_the_logs_and_on_the_channel(make_client: MakeClient) -> None:
    client = make_client(simulator={"faults": False})
    p = platform(client)
    assert p.fleet is not None and p.logs is not None
    resp = client.post(
        "/api/v1/fleet/faults", json={"scenario": "service_crash", "server": "k8s-api-01"}
    )
    assert resp.status_code in (200, 201), resp.text
    fault = resp.json()["data"]
    p.fleet.simulator.advance(fault["start_ms"] + 15_000)  # the next scrape after the fault
    assert p.logs.sync_simulated() > 0
    crash = get(client, server="k8s-api-01", q="segfault", end=str(fault["start_ms"] / 1000 + 60))
    assert len(crash) == 1 and crash[0]["level"] == "error"
    event = p.bus.latest("logs")
    assert event is not None
    assert {s["name"] for s in event.payload["servers"]} >= {"k8s-api-01"}
    crashed = next(s for s in event.payload["servers"] if s["name"] == "k8s-api-01")
    assert crashed["role"] == "api" and any("segfault" in x["message"] for x in crashed["lines"])


def test_tailed_host_files_are_stored(make_client: MakeClient, tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("")
    client = make_client(
        simulator={"enabled": False},
        logs={"tail_paths": [str(tmp_path / "*.log")], "tail_server": "this-host"},
    )
    p = platform(client)
    assert p.logs is not None
    p.logs.poll_files()
    log.write_text("ERROR payment service unreachable\nINFO all good\n")
    assert p.logs.poll_files() == 2
    got = get(client, server="this-host", level="error")
    assert [(x["message"], x["source"]) for x in got] == [
        ("ERROR payment service unreachable", "app.log")
    ]
    jobs = {j["name"] for j in client.get("/api/v1/status/jobs").json()["data"]["jobs"]}
    assert {"logs-tail", "logs-retention"} <= jobs and "logs-simulated" not in jobs


def test_bad_parameters_are_400_with_the_reason(make_client: MakeClient) -> None:
    client = make_client(simulator={"enabled": False})
    for params, needle in (
        ({"level": "loud"}, "unknown log level"),
        ({"since": "soon"}, "duration"),
        ({"start": "yesterday"}, "start"),
        ({"start": "2024-01-02T00:00:00Z", "end": "2024-01-01T00:00:00Z"}, "before start"),
        ({"q": "  "}, "blank"),
    ):
        resp = client.get("/api/v1/logs", params=params)
        assert resp.status_code == 400, (params, resp.text)
        assert needle in resp.json()["error"], (params, resp.json())
    assert client.get("/api/v1/logs", params={"limit": "0"}).status_code in (400, 422)


def test_logs_can_be_disabled(make_client: MakeClient) -> None:
    client = make_client(simulator={"enabled": False}, logs={"enabled": False})
    resp = client.get("/api/v1/logs")
    assert resp.status_code == 404
    assert "logs are disabled" in resp.json()["error"]


def test_an_incident_window_brings_its_servers_warnings_and_errors(make_client: MakeClient) -> None:
    client = make_client(simulator={"faults": False})
    p = platform(client)
    assert p.fleet is not None and p.logs is not None
    resp = client.post(
        "/api/v1/fleet/faults", json={"scenario": "service_crash", "server": "k8s-api-01"}
    )
    fault = resp.json()["data"]
    p.fleet.simulator.advance(fault["start_ms"] + 90_000)
    p.logs.sync_simulated()
    inc = p.incidents.add(
        Event(
            "anomaly",
            fault["start_ms"] / 1000 + 20,
            "test:k8s-api-01",
            ("k8s-api-01",),
            "k8s-api-01 service down",
        )  # fmt: skip
    )
    assert inc is not None
    body = client.get("/api/v1/logs", params={"incident": str(inc.id)}).json()["data"]
    assert body["incident"] == inc.id and body["servers"] == ["k8s-api-01"]
    lines = body["lines"]
    assert any("segfault" in x["message"] for x in lines)
    assert all(x["server"] == "k8s-api-01" and x["level"] != "info" for x in lines)
    assert body["start_ms"] <= fault["start_ms"] <= body["end_ms"]
    missing = client.get("/api/v1/logs", params={"incident": "999999"})
    assert missing.status_code == 404
