"""The simulated fleet as a source: backfill, live ticks on the grid, restart over stored data."""

from __future__ import annotations

from pathlib import Path

from openmanager.config.settings import SimulatorSettings, StorageSettings
from openmanager.services.fleet import FleetService
from openmanager.tsdb.engine import EmbeddedStorage
from openmanager.tsdb.matchers import eq

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


class FakeClock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def load1(storage: EmbeddedStorage, server: str) -> list[int]:
    found = storage.select([eq("__name__", "node_load1"), eq("server", server)], 0, 2**62)
    return found[0].timestamps.tolist() if found else []


def test_backfill_then_ticks_then_restart_continue_without_gaps_or_rejections(
    tmp_path: Path,
) -> None:
    clock = FakeClock(T0)
    settings = SimulatorSettings(backfill="10m", interval="15s", faults=False)
    storage = EmbeddedStorage(
        tmp_path,
        StorageSettings(path=tmp_path, wal_fsync=False),
        now_ms=lambda: int(clock() * 1000),
    )
    fleet = FleetService(settings, storage, clock)
    assert fleet.backfill(600_000) > 0
    assert len(load1(storage, "db-primary-01")) == 41  # 10 minutes at 15 s, both ends

    clock.t += 60  # four grid points are due
    fleet.tick()
    stamps = load1(storage, "db-primary-01")
    assert len(stamps) == 45 and all(
        b - a == 15_000 for a, b in zip(stamps, stamps[1:], strict=False)
    )

    clock.t += 120  # a restart two minutes later: only the missing part is written
    again = FleetService(settings, storage, clock)
    written = again.backfill(600_000)
    assert written == 8 * len(again.simulator.series)
    stamps = load1(storage, "db-primary-01")
    assert len(stamps) == 53 and stamps[-1] == int(clock() * 1000) // 15_000 * 15_000
    storage.close()
