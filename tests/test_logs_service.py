"""LogService: simulated lines written tick by tick, resumed after a restart without duplicates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openmanager.config.settings import LogsSettings, SimulatorSettings
from openmanager.logs.record import LogRecord
from openmanager.services.logs import LogService
from openmanager.simulate import Simulator
from openmanager.simulate.logs import LogSimulator

T0 = 1_700_006_400_000
MIN = 60_000


def service(path: Path, events: list[tuple[str, dict[str, Any]]]) -> LogService:
    settings = LogsSettings(path=path)
    return LogService(settings, path, clock=lambda: (T0 + 60 * MIN) / 1000,
                      publish=lambda ch, p: events.append((ch, p)))  # fmt: skip


def test_ticks_and_a_restart_write_each_line_exactly_once(tmp_path: Path) -> None:
    sim = Simulator(SimulatorSettings(faults=False), start_ms=T0)
    sim.trigger("cpu_spike", "k8s-worker-01", T0 + 5 * MIN)
    events: list[tuple[str, dict[str, Any]]] = []
    now = [T0 + 10 * MIN]
    first = service(tmp_path, events)
    first.attach_simulator(LogSimulator.of(sim), lambda: now[0], since_ms=T0)
    n1 = first.sync_simulated()
    assert first.sync_simulated() == 0  # nothing new until the simulator moves on
    now[0] += 15_000
    n2 = first.sync_simulated()
    assert n1 > 500 and n2 > 0
    first.close()

    again = service(tmp_path, events)  # a restart: resumes after the newest stored line
    again.attach_simulator(LogSimulator.of(sim), lambda: T0 + 30 * MIN, since_ms=T0)
    again.sync_simulated()
    stored = again.search(start_ms=T0, end_ms=T0 + 30 * MIN, limit=10_000, oldest_first=True)
    expected = LogSimulator.of(sim).lines(T0, T0 + 30 * MIN + 1)
    assert stored == expected
    assert any("backup-compress" in r.message for r in stored)  # the CPU spike's watchdog line

    channel, payload = events[0]
    assert channel == "logs"
    by_name = {s["name"]: s for s in payload["servers"]}
    assert by_name["db-primary-01"]["role"] == "database"
    assert sum(len(s["lines"]) for s in payload["servers"]) == n1


def test_several_servers_around_an_incident(tmp_path: Path) -> None:
    svc = service(tmp_path, [])
    svc.write([
        LogRecord(T0 + 1, "a", "error", "app", "a broke"),
        LogRecord(T0 + 2, "b", "info", "app", "b fine"),
        LogRecord(T0 + 3, "b", "warning", "app", "b slow"),
        LogRecord(T0 + 4, "c", "error", "app", "c not asked for"),
    ])  # fmt: skip
    got = svc.around(["a", "b"], T0, T0 + MIN)
    assert [r.message for r in got] == ["b slow", "a broke"]
    assert [r.message for r in svc.around(["a", "b"], T0, T0 + MIN, level=None, limit=2)] == [
        "b slow",
        "b fine",
    ]
