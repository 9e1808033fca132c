"""The fleet summary's fast path: same answer as the route, auth still applies, 503 without a fleet."""

from __future__ import annotations

from tests.cluster import Start, platform


def test_fast_path_serves_the_rendered_fleet(start_instance: Start) -> None:
    client = start_instance(simulator={"enabled": True, "servers": 4, "backfill": "1m"})
    r = client.get("/api/v1/fleet")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.json() == {"status": "success", "data": platform(client).fleet.fleet()}  # type: ignore[union-attr]
    assert r.headers["x-request-id"]
    head = client.head("/api/v1/fleet")
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len(r.content)
    assert (
        'openmanager_http_request_duration_seconds_count{code="200",method="GET",route="/api/v1/fleet"}'
        in client.get("/metrics").text
    )


def test_without_a_fleet_the_route_explains(start_instance: Start) -> None:
    r = start_instance().get("/api/v1/fleet")
    assert r.status_code == 503
    assert "simulator" in r.text


def test_auth_applies_to_the_fast_path(start_instance: Start) -> None:
    client = start_instance(simulator={"enabled": True, "servers": 2, "backfill": "1m"},
                            security={"auth": True})  # fmt: skip
    assert client.get("/api/v1/fleet").status_code == 401
