"""Routing, grouping timers, dedup, resolved notifications, silences, inhibition, flapping.

Driven by a settable clock through NotifyService against a real local HTTP webhook endpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from openmanager.config.settings import NotifySettings
from openmanager.notify.matchers import parse_matchers
from openmanager.services.notify import NotifyService
from tests.notify.conftest import Clock, Sink, alert

MakeService = Callable[..., NotifyService]


@pytest.fixture
def make_service(tmp_path: Path, clock: Clock) -> Iterator[MakeService]:
    services: list[NotifyService] = []

    def make(config: str, **settings: Any) -> NotifyService:
        path = tmp_path / f"am{len(services)}.yml"
        path.write_text(config)
        s = NotifyService(
            NotifySettings(config_file=path, retry_backoff="10ms", retry_attempts=2, **settings),
            tmp_path / f"data{len(services)}",
            clock=clock,
        )
        services.append(s)
        return s

    yield make
    for s in services:
        s.close()


def step(service: NotifyService, clock: Clock, seconds: float, *resend: dict[str, str]) -> None:
    """Advance the clock, re-post still-firing alerts (as Prometheus does), flush, deliver."""
    clock.advance(seconds)
    if resend:
        service.send([alert(clock, **labels) for labels in resend])
    service.tick()
    assert service.delivery.drain(10)


def webhook_config(url: str, **route: str) -> str:
    extra = "".join(f"  {k}: {v}\n" for k, v in route.items())
    return (
        "route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 30s\n"
        f"  group_interval: 5m\n  repeat_interval: 1h\n{extra}"
        f"receivers:\n  - name: hook\n    webhook_configs:\n      - url: {url}/hook\n"
    )


def test_group_wait_groups_then_interval_then_repeat(
    make_service: MakeService, sink: Sink, clock: Clock
) -> None:
    svc = make_service(webhook_config(sink.url))
    a, b = {"alertname": "HighCPU", "instance": "a"}, {"alertname": "HighCPU", "instance": "b"}
    svc.send([alert(clock, **a)])
    step(svc, clock, 10, a)
    step(svc, clock, 10, a, b)
    assert sink.bodies == []  # still inside group_wait
    step(svc, clock, 11, a, b)
    assert len(sink.bodies) == 1
    body = sink.bodies[0]
    assert body["version"] == "4" and body["status"] == "firing" and body["receiver"] == "hook"
    assert body["groupLabels"] == {"alertname": "HighCPU"}
    assert body["commonLabels"] == {"alertname": "HighCPU"}
    assert sorted(a["labels"]["instance"] for a in body["alerts"]) == ["a", "b"]
    assert all(a["status"] == "firing" for a in body["alerts"])
    # Nothing new: no notification at the next group_interval (dedup).
    for _ in range(12):
        step(svc, clock, 300, a, b)
    # 12 intervals = exactly 1h: not *past* repeat_interval yet (Alertmanager compares
    # strictly), so the repeat goes out at the 13th flush, 65 minutes after the first.
    assert len(sink.bodies) == 1
    step(svc, clock, 300, a, b)
    assert len(sink.bodies) == 2
    assert [x["status"] for x in sink.bodies[1]["alerts"]] == ["firing", "firing"]


def test_new_alert_in_group_notified_at_group_interval_and_resolved(
    make_service: MakeService, sink: Sink, clock: Clock
) -> None:
    svc = make_service(webhook_config(sink.url))
    a, b = {"alertname": "Disk", "instance": "a"}, {"alertname": "Disk", "instance": "b"}
    svc.send([alert(clock, **a)])
    step(svc, clock, 31, a)
    assert len(sink.bodies) == 1
    step(svc, clock, 60, a, b)
    assert len(sink.bodies) == 1  # waits for group_interval
    step(svc, clock, 120, a, b)
    step(svc, clock, 120, a, b)
    assert len(sink.bodies) == 2 and len(sink.bodies[1]["alerts"]) == 2
    # Both resolve: one resolved notification (webhook send_resolved defaults to true).
    clock.advance(100)
    svc.send([alert(clock, resolved=True, **a), alert(clock, resolved=True, **b)])
    step(svc, clock, 200)
    assert len(sink.bodies) == 3
    last = sink.bodies[2]
    assert last["status"] == "resolved"
    assert {a["status"] for a in last["alerts"]} == {"resolved"}
    assert all(a["endsAt"] != "0001-01-01T00:00:00Z" for a in last["alerts"])
    step(svc, clock, 300)
    assert len(sink.bodies) == 3  # resolved alerts left the group
    assert svc.groups() == []


def test_alert_resolves_when_not_resent(
    make_service: MakeService, sink: Sink, clock: Clock
) -> None:
    svc = make_service(webhook_config(sink.url))
    svc.send([alert(clock, alertname="Gone", instance="a")])  # ends_at = now + 240s
    step(svc, clock, 31)
    step(svc, clock, 300)
    assert [b["status"] for b in sink.bodies] == ["firing", "resolved"]
    hist = svc.history(alertname="Gone")
    assert hist[0]["resolvedAt"] is not None and hist[0]["durationSeconds"] == 240


def test_routing_tree_matchers_continue_and_old_match(
    make_service: MakeService, sink: Sink, sink2: Sink, clock: Clock
) -> None:
    cfg = f"""
route:
  receiver: default
  group_by: ['...']
  group_wait: 1s
  routes:
    - match: {{severity: critical}}
      receiver: pager
      continue: true
    - matchers: ['team=~"db|storage"']
      receiver: dbteam
    - match_re: {{team: "web.*"}}
      receiver: pager
receivers:
  - name: default
    webhook_configs: [{{url: "{sink.url}/default"}}]
  - name: pager
    webhook_configs: [{{url: "{sink.url}/pager"}}]
  - name: dbteam
    webhook_configs: [{{url: "{sink2.url}/db"}}]
"""
    svc = make_service(cfg)
    svc.send(
        [
            alert(clock, alertname="A", severity="critical", team="db"),
            alert(clock, alertname="B", severity="warning", team="db"),
            alert(clock, alertname="C", team="webfront"),
            alert(clock, alertname="D", team="other"),
        ]
    )
    step(svc, clock, 2)
    got = sorted(
        (p, b["alerts"][0]["labels"]["alertname"])
        for p, b in zip(sink.paths, sink.bodies, strict=True)
    )
    assert got == [("/default", "D"), ("/pager", "A"), ("/pager", "C")]
    assert sorted(b["alerts"][0]["labels"]["alertname"] for b in sink2.bodies) == ["A", "B"]
    # group_by '...' groups by all labels: each alert has its own group.
    assert all(len(b["alerts"]) == 1 for b in sink.bodies + sink2.bodies)


def test_silence_mutes_until_expired(make_service: MakeService, sink: Sink, clock: Clock) -> None:
    svc = make_service(webhook_config(sink.url))
    s = svc.add_silence(
        parse_matchers('alertname="Noisy"'),
        starts_at=None,
        ends_at=clock() + 3600,
        created_by="me",
        comment="known",
    )
    noisy, real = {"alertname": "Noisy"}, {"alertname": "Real"}
    svc.send([alert(clock, **noisy), alert(clock, **real)])
    step(svc, clock, 31, noisy, real)
    assert [b["groupLabels"]["alertname"] for b in sink.bodies] == ["Real"]
    muted = {a["labels"]["alertname"]: a["mutedBy"] for a in svc.alerts()}
    assert muted == {"Noisy": f"silenced:{s.id}", "Real": None}
    assert s.state(clock()) == "active"
    svc.expire_silence(s.id)
    assert svc.silence(s.id).state(clock()) == "expired"
    step(svc, clock, 300, noisy, real)
    assert sorted(b["groupLabels"]["alertname"] for b in sink.bodies) == ["Noisy", "Real"]


def test_silence_expires_by_time(make_service: MakeService, sink: Sink, clock: Clock) -> None:
    svc = make_service(webhook_config(sink.url))
    svc.add_silence(
        parse_matchers("alertname=X"),
        starts_at=None,
        ends_at=clock() + 100,
        created_by="",
        comment="",
    )
    svc.send([alert(clock, alertname="X")])
    step(svc, clock, 31, {"alertname": "X"})
    assert sink.bodies == []
    step(svc, clock, 100, {"alertname": "X"})
    step(svc, clock, 200, {"alertname": "X"})
    assert len(sink.bodies) == 1


def test_inhibition(make_service: MakeService, sink: Sink, clock: Clock) -> None:
    cfg = (
        webhook_config(sink.url)
        + """
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="warning"']
    equal: [instance]
"""
    )
    svc = make_service(cfg)
    svc.send(
        [
            alert(clock, alertname="NodeDown", severity="critical", instance="a"),
            alert(clock, alertname="HighLoad", severity="warning", instance="a"),
            alert(clock, alertname="HighLoad", severity="warning", instance="b"),
        ]
    )
    step(svc, clock, 31)
    sent = sorted(
        (a["labels"]["alertname"], a["labels"]["instance"])
        for b in sink.bodies
        for a in b["alerts"]
    )
    assert sent == [("HighLoad", "b"), ("NodeDown", "a")]
    # Source resolves: the inhibited alert is notified at the next interval.
    clock.advance(200)
    svc.send(
        [
            alert(clock, alertname="NodeDown", severity="critical", instance="a", resolved=True),
            alert(clock, alertname="HighLoad", severity="warning", instance="a"),
            alert(clock, alertname="HighLoad", severity="warning", instance="b"),
        ]
    )
    step(svc, clock, 100)
    high = [b for b in sink.bodies if b["groupLabels"]["alertname"] == "HighLoad"][-1]
    assert sorted(a["labels"]["instance"] for a in high["alerts"]) == ["a", "b"]


def test_flapping_alert_is_held_and_reported(
    make_service: MakeService, sink: Sink, clock: Clock
) -> None:
    cfg = webhook_config(sink.url).replace("group_interval: 5m", "group_interval: 1m")
    svc = make_service(cfg, flap_threshold=3, flap_window="30m")
    svc.send([alert(clock, alertname="Flappy")])
    step(svc, clock, 31, {"alertname": "Flappy"})
    assert len(sink.bodies) == 1
    for i in range(6):  # resolve / fire every minute
        clock.advance(60)
        svc.send([alert(clock, alertname="Flappy", resolved=i % 2 == 0)])
        step(svc, clock, 0)
    # Changes 1..3 notify normally at most; once over the threshold nothing more is sent.
    sent_while_flapping = len(sink.bodies)
    assert svc.alerts()[0]["flapping"] is True
    assert svc.alerts()[0]["mutedBy"] == "flapping"
    for _ in range(5):
        clock.advance(60)
        svc.send([alert(clock, alertname="Flappy", resolved=True)])
        svc.send([alert(clock, alertname="Flappy")])
        step(svc, clock, 0)
    assert len(sink.bodies) == sent_while_flapping
    hist = svc.history(alertname="Flappy")
    assert any(h["flapping"] for h in hist)
    # Quiet (firing, unchanged) for a whole window: released and notified again if needed.
    for _ in range(31):
        step(svc, clock, 60, {"alertname": "Flappy"})
    assert svc.alerts()[0]["flapping"] is False


def test_maintenance_window_mutes_matching_alerts(
    make_service: MakeService, sink: Sink, clock: Clock
) -> None:
    # clock starts 2026-09-21T14:13:20Z (a Monday); a window every day from 14:00 for 1h.
    windows = [
        {"name": "daily", "cron": "0 14 * * *", "duration": "1h", "matchers": ['env="prod"']}
    ]
    svc = make_service(webhook_config(sink.url), maintenance_windows=windows)
    svc.send([alert(clock, alertname="A", env="prod"), alert(clock, alertname="B", env="dev")])
    step(svc, clock, 31)
    assert [b["groupLabels"]["alertname"] for b in sink.bodies] == ["B"]
    assert {a["labels"]["alertname"]: a["mutedBy"] for a in svc.alerts()}[
        "A"
    ] == "maintenance:daily"
    for _ in range(10):  # past 15:00 the window is over
        step(svc, clock, 300, {"alertname": "A", "env": "prod"}, {"alertname": "B", "env": "dev"})
    assert "A" in [b["groupLabels"]["alertname"] for b in sink.bodies]


def test_route_time_intervals(make_service: MakeService, sink: Sink, clock: Clock) -> None:
    cfg = f"""
route:
  receiver: hook
  group_wait: 1s
  group_interval: 1m
  routes:
    - matchers: [team=night]
      active_time_intervals: [nights]
    - matchers: [team=day]
      mute_time_intervals: [afternoons]
receivers:
  - name: hook
    webhook_configs: [{{url: "{sink.url}"}}]
time_intervals:
  - name: nights
    time_intervals: [{{times: [{{start_time: "22:00", end_time: "24:00"}}]}}]
  - name: afternoons
    time_intervals: [{{times: [{{start_time: "12:00", end_time: "18:00"}}], weekdays: ['monday:friday']}}]
"""
    svc = make_service(cfg)  # 14:13 on a Monday
    svc.send([alert(clock, alertname="X", team="night"), alert(clock, alertname="Y", team="day")])
    step(svc, clock, 2)
    assert sink.bodies == []
    # Jump to 22:13 the same day: the night route is active, the day route no longer muted.
    clock.advance(8 * 3600 - 2 - 60)
    svc.send([alert(clock, alertname="X", team="night"), alert(clock, alertname="Y", team="day")])
    step(svc, clock, 60, {"alertname": "X", "team": "night"}, {"alertname": "Y", "team": "day"})
    assert sorted(b["alerts"][0]["labels"]["alertname"] for b in sink.bodies) == ["X", "Y"]


def test_restart_does_not_renotify_and_keeps_silences(
    tmp_path: Path, sink: Sink, clock: Clock
) -> None:
    cfg = tmp_path / "am.yml"
    cfg.write_text(webhook_config(sink.url))

    def start() -> NotifyService:
        return NotifyService(
            NotifySettings(config_file=cfg, retry_backoff="10ms"), tmp_path / "data", clock=clock
        )

    a = {"alertname": "Disk", "instance": "a"}
    svc = start()
    sil = svc.add_silence(
        parse_matchers("alertname=Other"),
        starts_at=None,
        ends_at=clock() + 7200,
        created_by="",
        comment="",
    )
    svc.send([alert(clock, **a)])
    step(svc, clock, 31, a)
    assert len(sink.bodies) == 1
    svc.close()
    # A new process: the rule engine re-sends the same firing alert (same start time).
    svc = start()
    try:
        started = clock() - 31
        svc.send([alert(clock, starts=started, **a)])
        step(svc, clock, 1, a)
        step(svc, clock, 300, a)
        assert len(sink.bodies) == 1  # the notification log survived: no duplicate page
        assert svc.silence(sil.id).state(clock()) == "active"
        # ... but a change is still notified.
        b = {"alertname": "Disk", "instance": "b"}
        step(svc, clock, 300, a, b)
        assert len(sink.bodies) == 2
    finally:
        svc.close()


def test_history_is_pruned_after_retention(
    make_service: MakeService, sink: Sink, clock: Clock
) -> None:
    svc = make_service(webhook_config(sink.url), history_retention="1d")
    a = {"alertname": "Old"}
    svc.send([alert(clock, **a)])
    step(svc, clock, 31, a)
    clock.advance(60)
    svc.send([alert(clock, resolved=True, **a)])
    step(svc, clock, 300)
    (episode,) = svc.history(alertname="Old")
    assert episode["notificationsPerReceiver"]["hook"]["sent"] == 2
    assert svc.prune(clock() + 3600) == 0  # resolved less than a day before
    assert svc.prune(clock() + 86400 + 3600) == 1
    assert svc.history(alertname="Old") == []
