"""The app over a real platform: health, readiness, own metrics, fleet, series API, errors."""

from __future__ import annotations

import re

from tests.api.conftest import MakeClient


def test_health_ready_and_own_metrics(make_client: MakeClient) -> None:
    client = make_client()
    assert client.get("/-/healthy").status_code == 200
    ready = client.get("/-/ready")
    assert ready.status_code == 200 and "Ready" in ready.text
    metrics = client.get("/metrics").text
    assert "openmanager_job_runs_total" in metrics or "openmanager_job_duration_seconds" in metrics


def test_fleet_lists_the_default_twenty_servers_with_status_and_summary(
    make_client: MakeClient,
) -> None:
    data = make_client().get("/api/v1/fleet").json()["data"]
    names = {s["name"] for s in data["servers"]}
    assert len(names) == 20 and {"db-primary-01", "api-gateway-01", "vdi-desktop-01"} <= names
    summary = data["summary"]
    assert summary["total"] == 20
    assert summary["healthy"] + summary["warning"] + summary["critical"] == 20
    assert 0 < summary["avg_cpu_percent"] < 100 and 0 < summary["avg_memory_percent"] < 100
    for server in data["servers"]:
        assert server["status"] in ("healthy", "warning", "critical")


def test_unknown_server_is_404_with_envelope(make_client: MakeClient) -> None:
    resp = make_client().get("/api/v1/fleet/no-such-server")
    assert resp.status_code == 404
    assert resp.json() == {
        "status": "error",
        "errorType": "not_found",
        "error": "no server named 'no-such-server' in the fleet",
    }


def test_fleet_exposition_has_every_server(make_client: MakeClient) -> None:
    text = make_client().get("/metrics/fleet").text
    assert "# TYPE node_cpu_seconds_total counter" in text
    servers = set(re.findall(r'server="([^"]+)"', text))
    assert len(servers) == 20


def test_backfilled_history_is_queryable_through_the_series_api(make_client: MakeClient) -> None:
    client = make_client()
    resp = client.get("/api/v1/series", params={"match[]": 'node_load1{server="db-primary-01"}'})
    body = resp.json()
    assert body["status"] == "success"
    assert [s["server"] for s in body["data"]] == ["db-primary-01"]
    names = client.get("/api/v1/label/__name__/values").json()["data"]
    assert (
        "node_memory_MemAvailable_bytes" in names
        and "http_request_duration_seconds_bucket" in names
    )
    meta = client.get("/api/v1/metadata", params={"metric": "node_load1"}).json()["data"]
    assert meta["node_load1"][0]["type"] == "gauge"


def test_prometheus_error_envelope_for_bad_selector(make_client: MakeClient) -> None:
    resp = make_client().get("/api/v1/series", params={"match[]": "sum(up"})
    assert resp.status_code == 400
    body = resp.json()
    assert body["status"] == "error" and body["errorType"] == "bad_data"
    assert body["error"].startswith("parse error")
    missing = make_client().get("/api/v1/series")
    assert missing.status_code == 400 and missing.json()["error"] == "no match[] parameter provided"


def test_plain_error_shape_outside_prometheus_api(make_client: MakeClient) -> None:
    client = make_client(simulator={"enabled": False})
    resp = client.get("/metrics/fleet")
    assert resp.status_code == 503
    assert resp.json() == {
        "error": {
            "type": "unavailable",
            "message": "the simulated fleet is disabled (simulator.enabled = false)",
        }
    }


def test_jobs_status_lists_the_simulator_tick(make_client: MakeClient) -> None:
    data = make_client().get("/api/v1/status/jobs").json()["data"]
    assert data["ready"] is True
    names = [j["name"] for j in data["jobs"]]
    assert names == sorted(names)
    assert {"simulator", "storage-maintenance", "forecast-exhaustion"} <= set(names)
