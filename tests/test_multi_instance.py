"""Two instances sharing one real Redis: live data, the fleet state and alert notifications.

Each instance is a real Platform + app (driven in-process by Starlette's TestClient) with its
own data directory; the only thing they share is Redis (a unique key prefix per test).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cluster import Start, platform, wait_until
from tests.notify.conftest import Sink, always_on_rules

pytestmark = pytest.mark.integration


@pytest.fixture
def sink() -> Iterator[Sink]:
    s = Sink()
    yield s
    s.close()


def test_websocket_on_b_sees_samples_ingested_by_a(
    start_instance: Start, shared_redis: tuple[str, str]
) -> None:
    url, prefix = shared_redis
    redis_cfg = {"url": url, "key_prefix": prefix}
    a = start_instance(simulator={"enabled": True, "interval": "1s", "servers": 5}, redis=redis_cfg)
    b = start_instance(redis=redis_cfg)
    wait_until(lambda: platform(b).redis and platform(b).redis.connected, what="B connected")  # type: ignore[union-attr]
    # B has no simulator: before A's first tick reaches it, it has no fleet to show.
    with b.websocket_connect("/api/v1/stream?channel=server-metrics") as ws:
        assert ws.receive_json()["type"] == "hello"
        assert ws.receive_json()["type"] == "subscribed"
        while True:
            msg = ws.receive_json()
            if msg["type"] == "update":
                break
        data = msg["events"][-1]["data"]
    names_a = {s["name"] for s in a.get("/api/v1/fleet").json()["data"]["servers"]}
    assert {s["name"] for s in data["servers"]} == names_a
    assert len(names_a) == 5
    # B serves the same fleet state from what A shares (B itself simulates nothing).
    fleet_b = b.get("/api/v1/fleet")
    assert fleet_b.status_code == 200
    assert {s["name"] for s in fleet_b.json()["data"]["servers"]} == names_a
    # A's own WebSocket clients are not sent A's events twice (once locally, once via Redis).
    assert platform(a).bus.latest("server-metrics").origin == ""  # type: ignore[union-attr]
    assert platform(b).bus.latest("server-metrics").origin == platform(a).instance_id  # type: ignore[union-attr]


def test_late_instance_catches_up_from_the_cached_fleet_state(
    start_instance: Start, shared_redis: tuple[str, str]
) -> None:
    url, prefix = shared_redis
    redis_cfg = {"url": url, "key_prefix": prefix}
    a = start_instance(simulator={"enabled": True, "interval": "1s", "servers": 3}, redis=redis_cfg)
    wait_until(lambda: platform(a).redis and platform(a).redis.sessions, what="A connected")  # type: ignore[union-attr]
    wait_until(lambda: platform(a).bus.latest("server-metrics"), what="A's first tick")
    time.sleep(0.5)  # let the link write the event and its cached state
    a.__exit__(None, None, None)  # A is gone; its cached state lives on for cache_ttl
    b = start_instance(redis=redis_cfg)
    body = wait_until(
        lambda: (r := b.get("/api/v1/fleet")).status_code == 200 and r.json(),
        what="B serving the cached fleet",
    )
    assert len(body["data"]["servers"]) == 3


def test_alert_is_notified_once_with_two_instances(
    start_instance: Start, shared_redis: tuple[str, str], tmp_path: Path, sink: Sink
) -> None:
    url, prefix = shared_redis
    rules = tmp_path / "rules.yml"
    rules.write_text(always_on_rules(server="web-01"))
    am = tmp_path / "am.yml"
    am.write_text(
        "route:\n  receiver: hook\n  group_wait: 0s\n  group_by: [alertname]\n"
        f"receivers:\n  - name: hook\n    webhook_configs: [{{url: '{sink.url}/hook'}}]\n"
    )
    common: dict[str, Any] = {
        # A lease much longer than the test: a CPU-starved leader must not lose it midway
        # (a takeover re-notifies; that case is the failover test's, not this one's).
        "redis": {"url": url, "key_prefix": prefix, "leader_ttl": "60s"},
        "rules": {"files": [str(rules)]},
        "notify": {"config_file": str(am)},
    }
    a = start_instance(**common)
    b = start_instance(**common)
    leaders = [p for p in (platform(a), platform(b)) if p.leader.is_leader()]
    assert len(leaders) == 1, "exactly one instance leads"
    follower = platform(b) if leaders[0] is platform(a) else platform(a)
    with (b if follower is platform(b) else a).websocket_connect(
        "/api/v1/stream?channel=alerts"
    ) as ws:
        while (msg := ws.receive_json())["type"] != "update":
            pass
    (event,) = msg["events"]
    assert event["data"]["status"] == "firing"
    assert event["data"]["labels"]["alertname"] == "AlwaysOn"
    wait_until(lambda: sink.bodies, what="the webhook notification")
    time.sleep(3.0)  # both instances keep evaluating the rule every second meanwhile
    assert len(sink.bodies) == 1, sink.bodies
    assert [a["labels"]["alertname"] for a in sink.bodies[0]["alerts"]] == ["AlwaysOn"]
    status = (a if leaders[0] is platform(a) else b).get("/api/v1/status/dependencies").json()
    assert status["data"]["leader"]["leader"] is True


def test_follower_takes_over_when_the_leader_stops(
    start_instance: Start, shared_redis: tuple[str, str]
) -> None:
    url, prefix = shared_redis
    redis_cfg = {"url": url, "key_prefix": prefix, "leader_ttl": "3s"}
    a = start_instance(redis=redis_cfg)
    b = start_instance(redis=redis_cfg)
    assert platform(a).leader.is_leader() and not platform(b).leader.is_leader()
    assert platform(b).leader.holder == platform(a).instance_id
    a.__exit__(None, None, None)  # a graceful stop releases the lock
    wait_until(platform(b).leader.is_leader, timeout_s=5, what="B to take over")
