"""One leader per cluster for the rule evaluator and the notifier (a Redis lock with a TTL).

Each instance runs `tick` every third of the lease: the leader extends its lease, the others
try `SET key id NX PX ttl` and take over once the leader's lease has run out (it crashed or
lost Redis). A stopping leader releases the lock so a follower takes over at once.
Without Redis (single instance) the instance is always the leader.

While Redis is unreachable an instance keeps the role it had: the leader keeps evaluating
and notifying (nobody else can take the lock meanwhile), a follower stays a follower. When
Redis returns (possibly empty), the leader re-takes the lock at once while followers wait one
lease before they compete, so the same instance keeps leading; should another instance hold
the lock anyway, the old leader sees it and steps down on its next tick.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import redis
from prometheus_client import Gauge
from redis.exceptions import RedisError

from openmanager.config.settings import RedisSettings
from openmanager.observability.dependencies import Dependencies
from openmanager.resilience import CircuitBreaker, CircuitOpen, RetryPolicy, guarded_call
from openmanager.units import parse_duration

log = logging.getLogger(__name__)

IS_LEADER = Gauge(
    "openmanager_leader", "1 while this instance runs the rule evaluator and the notifier."
)

# Extend the lease only if we still hold it (compare-and-set, atomic in Redis).
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""

DEPENDENCY = "redis"


class LeaderElection:
    """Whether this instance leads; `tick` keeps the answer current (a scheduler job)."""

    def __init__(
        self,
        settings: RedisSettings,
        instance_id: str,
        dependencies: Dependencies,
    ) -> None:
        self.instance_id = instance_id
        self.dependencies = dependencies
        self.enabled = bool(settings.url)
        self.ttl_ms = parse_duration(settings.leader_ttl)
        self.key = f"{settings.key_prefix}:leader"
        self._lock = threading.Lock()
        self._leader = not self.enabled
        self.holder: str | None = instance_id if not self.enabled else None
        self._failed = False
        self._hold_off_until = 0.0
        """A follower does not try to take the lock before this (monotonic s): after an outage."""
        IS_LEADER.set(1 if self._leader else 0)
        timeout_s = parse_duration(settings.timeout) / 1000
        self.policy = RetryPolicy(attempts=2, initial_s=0.1, max_s=0.5, timeout_s=timeout_s)
        # One trial per tick once open: the tick is the only caller, the lease the deadline.
        self.breaker = CircuitBreaker(
            "redis-leader", failure_threshold=3, reset_after_s=max(self.ttl_ms / 3000, 0.1)
        )
        self._client: redis.Redis | None = (
            redis.Redis.from_url(
                settings.url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
            )
            if self.enabled
            else None
        )

    @property
    def interval_s(self) -> float:
        """How often `tick` should run: three chances to renew within one lease."""
        return max(self.ttl_ms / 3000, 0.1)

    def is_leader(self) -> bool:
        """True while this instance should evaluate rules and send notifications."""
        return self._leader

    def _set(self, leader: bool, holder: str | None) -> None:
        with self._lock:
            changed = leader != self._leader
            self._leader, self.holder = leader, holder
        IS_LEADER.set(1 if leader else 0)
        if changed:
            log.warning(
                "leader election: this instance (%s) is %s",
                self.instance_id,
                "now the leader" if leader else f"a follower (leader {holder})",
            )

    def tick(self) -> None:
        """Take or extend the lease; on Redis errors keep the current role and report the fault."""
        if self._client is None:
            return
        client = self._client

        # A follower's first good tick after an outage only starts its hold-off.
        may_take = self._leader or (not self._failed and time.monotonic() >= self._hold_off_until)

        def attempt() -> tuple[bool, str | None]:
            if may_take and client.set(self.key, self.instance_id, nx=True, px=self.ttl_ms):
                return True, self.instance_id
            if client.eval(_RENEW, 1, self.key, self.instance_id, self.ttl_ms):
                return True, self.instance_id
            holder: Any = client.get(self.key)
            return False, holder.decode() if isinstance(holder, bytes) else holder

        try:
            leader, holder = guarded_call(self.breaker, attempt, self.policy)
        except (RedisError, OSError, CircuitOpen) as exc:  # keep the role, report the fault
            self._failed = True
            self.dependencies.down(DEPENDENCY, exc)
            return
        if self._failed:  # Redis is back: give the previous leader one lease to re-take it
            self._failed = False
            self._hold_off_until = time.monotonic() + self.ttl_ms / 1000 + self.interval_s
        self.dependencies.up(DEPENDENCY)
        self._set(leader, holder)

    def release(self) -> None:
        """Give the lock up (at shutdown) so another instance takes over without waiting."""
        if self._client is None:
            return
        try:
            if self._leader:
                self._client.eval(_RELEASE, 1, self.key, self.instance_id)
        except (RedisError, OSError) as exc:
            log.warning("leader election: could not release the lock: %s", exc)
        finally:
            self._set(False, None)
            self._client.close()

    def status(self) -> dict[str, Any]:
        """For /api/v1/status/dependencies: who leads and whether it is us."""
        return {
            "instance": self.instance_id,
            "leader": self._leader,
            "holder": self.holder,
            "lock": self.key if self.enabled else None,
            "lease_s": self.ttl_ms / 1000,
        }
