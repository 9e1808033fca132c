"""Redis stopped and restarted under two running instances (a private `redis-server`).

While Redis is down each instance keeps serving from memory, says `degraded` in /-/ready
(still 200), reports the fault in /api/v1/status/dependencies and /metrics; when Redis
returns they reconnect and the follower catches up with the leader's live fleet state.
"""

from __future__ import annotations

import time

import pytest

from tests.cluster import PrivateRedis, Start, platform, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def fleet_time(client: object) -> int:
    r = client.get("/api/v1/fleet")  # type: ignore[attr-defined]
    return int(r.json()["data"]["time_ms"]) if r.status_code == 200 else -1


def test_instances_survive_redis_restart_and_catch_up(
    start_instance: Start, private_redis: PrivateRedis
) -> None:
    redis_cfg = {"url": private_redis.url, "key_prefix": "outage", "reconnect_max_backoff": "1s",
                 "timeout": "500ms", "leader_ttl": "3s"}  # fmt: skip
    a = start_instance(simulator={"enabled": True, "interval": "1s", "servers": 3}, redis=redis_cfg)
    b = start_instance(redis=redis_cfg)
    wait_until(lambda: fleet_time(b) > 0, what="B to see A's fleet")
    assert a.get("/-/ready").text == "OpenManager is Ready.\n"

    private_redis.stop()
    wait_until(lambda: "degraded" in a.get("/-/ready").text, what="A to report Redis down")
    wait_until(lambda: "degraded" in b.get("/-/ready").text, what="B to report Redis down")
    ready = b.get("/-/ready")
    assert ready.status_code == 200, "a missing Redis degrades the instance, it stays ready"
    assert "redis: down since" in ready.text
    assert ready.headers["X-OpenManager-Degraded"] == "redis"
    deps = a.get("/api/v1/status/dependencies").json()["data"]
    assert deps["degraded"] == ["redis"]
    (redis_dep,) = [d for d in deps["dependencies"] if d["name"] == "redis"]
    assert redis_dep["status"] == "down" and redis_dep["last_error"]
    assert 'openmanager_dependency_up{dependency="redis"} 0.0' in a.get("/metrics").text
    # Both keep serving: A its own fleet, live; B the last shared state it had, from memory.
    before = fleet_time(a)
    wait_until(lambda: fleet_time(a) > before, what="A to keep ticking without Redis")
    b_during = fleet_time(b)
    assert b_during > 0
    assert platform(a).leader.is_leader(), "the leader keeps its role while Redis is away"
    assert not platform(b).leader.is_leader()
    time.sleep(1.5)
    assert fleet_time(b) == b_during, "nothing reaches B while Redis is down"

    private_redis.start()
    wait_until(lambda: a.get("/-/ready").text == "OpenManager is Ready.\n", what="A to reconnect")
    wait_until(lambda: b.get("/-/ready").text == "OpenManager is Ready.\n", what="B to reconnect")
    wait_until(lambda: fleet_time(b) > fleet_time(a) - 2000 > b_during, what="B to catch up")
    assert platform(b).redis is not None and platform(b).redis.sessions >= 2
    assert 'openmanager_dependency_up{dependency="redis"} 1.0' in b.get("/metrics").text
    wait_until(platform(a).leader.is_leader, what="A to hold the lock again")
    assert not platform(b).leader.is_leader()
