"""A notifier endpoint that hangs (takes the request, never answers) under a running instance.

The instance stays up and keeps evaluating rules; the other receiver is notified at once; the
hung integration fails after its timeout and retries, is recorded as failed, opens its circuit
breaker and is reported in /-/ready and /metrics; once the endpoint answers again the alert it
missed is delivered (nothing lost) and the fault clears.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.cluster import Start, platform, wait_until
from tests.notify.conftest import Sink, always_on_rules

pytestmark = pytest.mark.slow


@pytest.fixture
def good() -> Iterator[Sink]:
    s = Sink()
    yield s
    s.close()


@pytest.fixture
def hung() -> Iterator[Sink]:
    s = Sink()
    s.hanging = True
    yield s
    s.close()


def last_evaluation(client: TestClient) -> str:
    groups = client.get("/api/v1/rules").json()["data"]["groups"]
    return str(groups[0]["lastEvaluation"])


def metric(client: TestClient, line_start: str) -> float | None:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return None


def per_receiver(client: TestClient) -> dict[str, Any]:
    (episode,) = client.get("/api/v1/alerts/history").json()["data"]
    return dict(episode["notificationsPerReceiver"])


def test_hung_notifier_times_out_opens_its_breaker_and_loses_nothing(
    start_instance: Start, tmp_path: Path, good: Sink, hung: Sink
) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(always_on_rules())
    am = tmp_path / "am.yml"
    am.write_text(
        "route:\n  receiver: good\n  group_wait: 0s\n  group_interval: 1s\n"
        "  repeat_interval: 1h\n  group_by: [alertname]\n"
        "  routes:\n    - receiver: hung\n      continue: true\n    - receiver: good\n"
        "receivers:\n"
        f"  - name: good\n    webhook_configs: [{{url: '{good.url}/good'}}]\n"
        f"  - name: hung\n    webhook_configs: [{{url: '{hung.url}/hung'}}]\n"
    )
    client = start_instance(
        rules={"files": [str(rules)]},
        notify={"config_file": str(am), "timeout": "1s", "retry_attempts": 2,
                "retry_backoff": "100ms", "retry_max_backoff": "200ms",
                "breaker_threshold": 2, "breaker_reset": "3s"},
    )  # fmt: skip
    delivery = platform(client).notify.delivery

    def hung_status() -> Any:
        return next(s for s in delivery.status() if s.receiver == "hung")

    # The good receiver is told at once, while the hung one's first attempt still waits.
    wait_until(lambda: good.bodies, timeout_s=10, what="the good receiver's notification")
    assert hung_status().failed == 0, "good was not held up by hung"
    wait_until(lambda: hung.hung >= 1, timeout_s=10, what="the hung receiver's first attempt")
    assert good.bodies[0]["alerts"][0]["labels"]["alertname"] == "AlwaysOn"

    # The hung one fails after timeout x attempts, twice, which opens its breaker.
    wait_until(lambda: hung_status().failed >= 2, timeout_s=12, what="two failed deliveries")
    assert platform(client).notify.delivery._workers[("hung", 0)].breaker.state != "closed"
    ready = client.get("/-/ready")
    assert ready.status_code == 200, "a hung notifier degrades the instance, it stays up"
    assert "notify-hung-0: down since" in ready.text and "timed out" in ready.text
    assert ready.headers["X-OpenManager-Degraded"] == "notify-hung-0"
    assert metric(client, 'openmanager_circuit_state{breaker="notify-hung-0"}') in (1.0, 2.0)
    failed = (
        'openmanager_notifications_total{integration="webhook",outcome="failed",receiver="hung"}'
    )
    assert (metric(client, failed) or 0) >= 2
    assert per_receiver(client)["hung"]["failed"] >= 2, "each give-up is in the history"
    # Rule evaluation goes on meanwhile.
    before = last_evaluation(client)
    wait_until(lambda: last_evaluation(client) != before, timeout_s=5, what="a rule evaluation")

    # The endpoint answers again: the missed alert is delivered after the breaker's pause.
    hung.hanging = False
    wait_until(lambda: hung.bodies, timeout_s=12, what="the missed notification")
    assert [a["labels"]["alertname"] for a in hung.bodies[0]["alerts"]] == ["AlwaysOn"]
    wait_until(lambda: client.get("/-/ready").text == "OpenManager is Ready.\n", what="recovery")
    assert metric(client, 'openmanager_circuit_state{breaker="notify-hung-0"}') == 0.0
    counts = per_receiver(client)
    assert counts["hung"]["sent"] == 1 and counts["good"] == {"sent": 1, "failed": 0}
    assert len(good.bodies) == 1, "the good receiver was notified exactly once"
