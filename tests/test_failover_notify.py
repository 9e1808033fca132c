"""Exactly-once notification across a leader failover (two instances, real Redis and PostgreSQL).

The leader notifies a firing alert, then dies without releasing its lock (a crash: the
follower must wait for the lease to run out). The follower takes over, evaluates the same
rule, and does not notify the alert again: on becoming leader it takes in the notification
log the old leader stored in the shared metadata store.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cluster import Start, platform, wait_until
from tests.metadb import MetaBackend
from tests.notify.conftest import Sink, always_on_rules

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def sink() -> Iterator[Sink]:
    s = Sink()
    yield s
    s.close()


def test_follower_taking_over_does_not_notify_again(
    start_instance: Start,
    shared_redis: tuple[str, str],
    shared_postgres: MetaBackend,
    tmp_path: Path,
    sink: Sink,
) -> None:
    url, prefix = shared_redis
    rules = tmp_path / "rules.yml"
    rules.write_text(always_on_rules())
    am = tmp_path / "am.yml"
    am.write_text(
        "route:\n  receiver: hook\n  group_wait: 0s\n  group_interval: 1s\n"
        "  repeat_interval: 1h\n  group_by: [alertname]\n"
        f"receivers:\n  - name: hook\n    webhook_configs: [{{url: '{sink.url}/hook'}}]\n"
    )
    common: dict[str, Any] = {
        "redis": {"url": url, "key_prefix": prefix, "leader_ttl": "4s"},
        "meta": shared_postgres.settings(),
        "rules": {"files": [str(rules)]},
        "notify": {"config_file": str(am)},
    }
    a = start_instance(**common)
    b = start_instance(**common)
    assert platform(a).leader.is_leader() and not platform(b).leader.is_leader()
    wait_until(lambda: sink.bodies, what="the leader's notification")
    wait_until(lambda: platform(a).notify.store.logs(), what="the stored notification log")

    # A crashes: it stops without giving the lock up, so B waits for the lease to run out.
    platform(a).leader.release = lambda: None  # type: ignore[method-assign]
    a.__exit__(None, None, None)
    wait_until(platform(b).leader.is_leader, timeout_s=15, what="B to take over")
    wait_until(
        lambda: any(al["labels"]["alertname"] == "AlwaysOn" for al in platform(b).notify.alerts()),
        what="B to evaluate the rule and hold the alert",
    )
    time.sleep(3.0)  # several flushes of B's group
    assert len(sink.bodies) == 1, [b["alerts"][0]["labels"] for b in sink.bodies]
    assert platform(b).notify.delivery.status()[0].sent == 0
