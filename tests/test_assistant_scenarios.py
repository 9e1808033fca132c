"""Every simulator fault scenario, replayed into storage: the assistant's most likely cause is the
ground truth's root server and metric, whether asked about that server, a caller, or the fleet.
Also `openmanager ask` on the local store (no server running)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from openmanager.assistant.gather import Gatherer, Sources
from openmanager.assistant.store import InteractionStore
from openmanager.assistant.template import narrate
from openmanager.cli.main import app as cli
from openmanager.config import load_settings
from openmanager.config.settings import SimulatorSettings
from openmanager.meta.db import open_meta
from openmanager.promql.memstore import MemoryStorage
from openmanager.services.fleet import FleetService
from openmanager.services.query import QueryService
from openmanager.tsdb.factory import open_storage
from openmanager.tsdb.storage import Storage

MIN_MS = 60_000


def _effect_end(fault: dict[str, Any], metric: str) -> int:
    return int(next(a["end_ms"] for a in fault["affected"] if a["metric"] == metric))


CASES: list[tuple[str, str, Callable[[dict[str, Any]], int], str, tuple[str, str]]] = [
    # scenario, root server, when to ask (from the fault record), question, expected (server, topic)
    ("disk_full", "db-primary-01",
     lambda f: _effect_end(f, "node_disk_written_bytes_total") + 10 * MIN_MS,
     "why is db-primary-01 slow?", ("db-primary-01", "disk")),
    ("service_crash", "k8s-api-01", lambda f: f["start_ms"] + 90_000,
     "what is wrong right now?", ("k8s-api-01", "service")),
    ("network_congestion", "storage-nfs-01", lambda f: f["start_ms"] + 15 * MIN_MS,
     "why is backup-server-01 slow?", ("storage-nfs-01", "network")),
    ("cpu_spike", "k8s-worker-01", lambda f: f["start_ms"] + 6 * MIN_MS,
     "k8s-worker-01 왜 느려요?", ("k8s-worker-01", "cpu")),
    ("memory_leak", "api-gateway-01",
     lambda f: _effect_end(f, "node_memory_MemAvailable_bytes") - 10 * MIN_MS,
     "why is api-gateway-01 using so much CPU?", ("api-gateway-01", "memory")),
]  # fmt: skip


def _replayed(
    scenario: str, server: str, when: Callable[[dict[str, Any]], int], storage: Storage
) -> tuple[FleetService, float]:
    """Two quiet hours, the fault four hours ago, replayed until `when(fault)`; returns that time."""
    now = [time.time() - 4 * 3600]
    fleet = FleetService(
        SimulatorSettings(backfill="2h", faults=False), storage, clock=lambda: now[0]
    )
    fleet.backfill(2 * 3_600_000)
    fault = fleet.trigger(scenario, server)
    now[0] = when(fault) / 1000
    fleet.tick()
    return fleet, now[0]


@pytest.mark.parametrize(
    ("scenario", "root", "when", "question", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_most_likely_cause_is_the_injected_root(
    scenario: str,
    root: str,
    when: Callable[[dict[str, Any]], int],
    question: str,
    expected: tuple[str, str],
) -> None:
    storage = MemoryStorage()
    fleet, now_s = _replayed(scenario, root, when, storage)
    deps = {s.name: tuple(s.dependencies) for s in fleet.simulator.fleet}
    gatherer = Gatherer(
        Sources(QueryService(storage).instant, dependencies=lambda n: deps.get(n, ()))
    )
    ev = gatherer.gather(question, int(now_s * 1000))
    assert ev.findings, narrate(ev)
    top = ev.findings[0]
    assert (top.server, top.topic) == expected, narrate(ev)
    assert f"[{top.ref}]" in narrate(ev).splitlines()[0]


def test_ask_on_the_local_store(tmp_path: Path) -> None:
    settings = load_settings(None, {"profile": "test", "storage": {"path": str(tmp_path / "data")}})
    storage = open_storage(settings.storage)
    try:
        _, asked_at = _replayed("disk_full", "db-primary-01", CASES[0][2], storage)
    finally:
        storage.close()
    config = tmp_path / "om.yaml"
    config.write_text(
        yaml.safe_dump({"profile": "test", "storage": {"path": str(tmp_path / "data")}})
    )
    question = "is the disk of db-primary-01 full?"
    out = CliRunner().invoke(cli, ["ask", question, "-c", str(config), "--time", str(asked_at)])
    assert out.exit_code == 0, out.output
    assert "Most likely cause: disk usage on db-primary-01 /data" in out.output
    assert "template narrator" in out.output
    stored = InteractionStore(open_meta("", tmp_path / "data"), owned=True)  # the metadata store
    try:
        assert [r["question"] for r in stored.recent()] == [question]
    finally:
        stored.close()
