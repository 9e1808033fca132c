"""Against the real Alertmanager (Debian `prometheus-alertmanager`) on a free loopback port.

1. Forwarding: alerts OpenManager forwards appear in Alertmanager's API with the same labels
   and fingerprints, and leave it when they resolve.
2. Parity: the same alerts and the same routing file give the same notifications (receiver,
   group labels, alerts, status) from Alertmanager and from OpenManager's dispatcher.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from openmanager.config.settings import NotifySettings
from openmanager.notify.model import fingerprint
from openmanager.rules.outbound import PostableAlert
from openmanager.services.notify import NotifyService
from tests.helpers import free_port, require_binary
from tests.notify.conftest import Sink

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def _wait(pred: Callable[[], bool], timeout_s: float = 20) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Start the real Alertmanager with a given config; returns its base URL."""
    binary = require_binary("prometheus-alertmanager")
    procs: list[subprocess.Popen[bytes]] = []

    def start(config: str) -> str:
        cfg = tmp_path / f"am{len(procs)}.yml"
        cfg.write_text(config)
        port = free_port()
        log = (tmp_path / f"am{len(procs)}.log").open("wb")
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={cfg}",
                f"--storage.path={tmp_path / f'amdata{len(procs)}'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        procs.append(proc)
        url = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            try:
                return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        assert _wait(ready), (tmp_path / f"am{len(procs) - 1}.log").read_text()
        return url

    yield start
    for p in procs:
        p.terminate()
        p.wait(timeout=10)


T0 = datetime.now(UTC)


def _alert(labels: dict[str, str], *, resolved: bool = False) -> PostableAlert:
    """Firing: started at T0 (set per test), ends 4 minutes ahead; resolved: ends now."""
    now = datetime.now(UTC)
    return PostableAlert(
        labels=labels,
        annotations={"summary": f"{labels['alertname']} on {labels.get('instance', '')}"},
        starts_at=T0,
        ends_at=now if resolved else now + timedelta(minutes=4),
        generator_url="http://prometheus.test/graph",
    )


@pytest.fixture(autouse=True)
def _start_now() -> None:
    # Alerts start now (not in the past) so group_wait applies: Alertmanager flushes a group
    # at once for an alert older than group_wait, racing its own inhibitor's cache.
    global T0
    T0 = datetime.now(UTC)


def test_forwarded_alerts_appear_and_resolve(
    tmp_path: Path, alertmanager: Callable[[str], str]
) -> None:
    url = alertmanager("route:\n  receiver: x\nreceivers:\n  - name: x\n")
    svc = NotifyService(
        NotifySettings(alertmanager_urls=[url], retry_backoff="100ms"), tmp_path / "data"
    )
    try:
        labels = [
            {"alertname": "HighCPU", "instance": "web-01", "severity": "warning"},
            {"alertname": "DiskFull", "instance": "db-01", "severity": "critical"},
        ]
        svc.send([_alert(x) for x in labels])

        def active() -> list[dict[str, Any]]:
            got: list[dict[str, Any]] = httpx.get(f"{url}/api/v2/alerts", timeout=5).json()
            return got

        assert _wait(lambda: len(active()) == 2)
        by_name = {a["labels"]["alertname"]: a for a in active()}
        for x in labels:
            got = by_name[x["alertname"]]
            assert got["labels"] == x
            assert got["annotations"]["summary"] == f"{x['alertname']} on {x['instance']}"
            assert got["fingerprint"] == fingerprint(x)  # same fingerprint function
            assert got["status"]["state"] == "active"
            assert got["generatorURL"] == "http://prometheus.test/graph"
        amtool = require_binary("amtool")
        out = subprocess.run(
            [amtool, "alert", "query", f"--alertmanager.url={url}", "-o", "extended"],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout
        assert "HighCPU" in out and "DiskFull" in out
        svc.send([_alert(labels[0], resolved=True)])
        assert _wait(lambda: [a["labels"]["alertname"] for a in active()] == ["DiskFull"])
        svc.send([_alert(labels[1], resolved=True)])
        assert _wait(lambda: active() == [])
        assert svc.delivery.drain(10)
        assert svc.receivers_status()[-1]["integrations"][0]["sent"] == 3
    finally:
        svc.close()


PARITY_CONFIG = """
route:
  receiver: default
  group_by: [alertname]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
  routes:
    - matchers: ['severity="critical"']
      receiver: pager
      continue: true
    - matchers: ['team=~"db|storage"']
      receiver: db
      group_by: [team, instance]
inhibit_rules:
  - source_matchers: [alertname="NodeDown"]
    target_matchers: [severity="warning"]
    equal: [instance]
receivers:
  - name: default
    webhook_configs: [{url: "SINK/default", send_resolved: true}]
  - name: pager
    webhook_configs: [{url: "SINK/pager", send_resolved: true}]
  - name: db
    webhook_configs: [{url: "SINK/db", send_resolved: false}]
"""

PARITY_ALERTS = [
    {"alertname": "NodeDown", "instance": "web-01", "severity": "critical"},
    {"alertname": "HighLoad", "instance": "web-01", "severity": "warning"},
    {"alertname": "HighLoad", "instance": "web-02", "severity": "warning"},
    {"alertname": "SlowQueries", "instance": "db-01", "severity": "warning", "team": "db"},
    {"alertname": "ReplicationLag", "instance": "db-01", "severity": "critical", "team": "db"},
    {"alertname": "Backup", "instance": "nas-01", "team": "storage"},
]


def _summary(paths: list[str], bodies: list[Any]) -> list[tuple[Any, ...]]:
    """Order-free view of notifications: path, status, group labels, alerts (labels, status)."""
    out = []
    for path, b in zip(paths, bodies, strict=True):
        alerts = tuple(
            sorted((tuple(sorted(a["labels"].items())), a["status"]) for a in b["alerts"])
        )
        out.append((path, b["status"], tuple(sorted(b["groupLabels"].items())), alerts))
    return sorted(out)


def test_same_notifications_as_alertmanager(
    tmp_path: Path, alertmanager: Callable[[str], str], sink: Sink, sink2: Sink
) -> None:
    url = alertmanager(PARITY_CONFIG.replace("SINK", sink.url))
    cfg = tmp_path / "ours.yml"
    cfg.write_text(PARITY_CONFIG.replace("SINK", sink2.url))
    svc = NotifyService(NotifySettings(config_file=cfg), tmp_path / "data")
    try:

        def both(alerts: list[PostableAlert]) -> None:
            resp = httpx.post(f"{url}/api/v2/alerts", json=[a.to_json() for a in alerts], timeout=5)
            resp.raise_for_status()
            svc.send(alerts)

        def settle(quiet_s: float = 3.0, timeout_s: float = 30.0) -> None:
            """Tick ours until neither side has sent anything for `quiet_s` (> group_interval)."""
            last = (-1, -1)
            quiet_since = time.monotonic()
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                svc.tick()
                now = (len(sink.bodies), len(sink2.bodies))
                if now != last:
                    last, quiet_since = now, time.monotonic()
                elif time.monotonic() - quiet_since >= quiet_s and all(now):
                    break
                time.sleep(0.1)
            assert svc.delivery.drain(10)

        both([_alert(x) for x in PARITY_ALERTS])
        settle()
        firing_am, firing_ours = (
            _summary(sink.paths, sink.bodies),
            _summary(sink2.paths, sink2.bodies),
        )
        assert firing_ours == firing_am
        # HighLoad on web-01 is inhibited by NodeDown in both.
        assert not any("web-01" in str(n[3]) and "HighLoad" in str(n[3]) for n in firing_ours)
        # NodeDown and the db alerts resolve.
        resolved = [PARITY_ALERTS[0], PARITY_ALERTS[3], PARITY_ALERTS[4]]
        n_am, n_ours = len(sink.bodies), len(sink2.bodies)
        both([_alert(x, resolved=True) for x in resolved])
        settle()
        later_am = _summary(sink.paths[n_am:], sink.bodies[n_am:])
        later_ours = _summary(sink2.paths[n_ours:], sink2.bodies[n_ours:])
        assert later_am and later_ours == later_am
        # The resolved NodeDown no longer inhibits HighLoad web-01: both notify it.
        assert any("web-01" in str(n[3]) and "HighLoad" in str(n[3]) for n in later_ours)
    finally:
        svc.close()
