"""The host collector and agent: real psutil readings, a failing fake source, remote-write push."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

from openmanager import catalog
from openmanager.cli.main import app
from openmanager.config.scrape import AgentSettings
from openmanager.config.settings import StorageSettings
from openmanager.errors import InvalidInput, Unavailable
from openmanager.ingest.host import HostCollector
from openmanager.ingest.host_source import FsUsage, PsutilSource
from openmanager.ingest.remote_write import decode_write_request
from openmanager.samples import SampleBatch, metric_name
from openmanager.services.agent import Agent, LocalSink, RemoteWriteSink
from openmanager.tsdb.factory import open_storage
from openmanager.tsdb.matchers import eq
from tests.api import conftest as api_conftest
from tests.api.conftest import MakeClient


def by_name(batch: SampleBatch) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for ref, value in zip(batch.series_ref, batch.values, strict=True):
        labels = dict(batch.series[int(ref)])
        out.setdefault(labels["__name__"], []).append((labels, float(value)))
    return out


def test_real_host_reading_uses_catalogued_node_exporter_names() -> None:
    batch = HostCollector(PsutilSource(), instance="box", clock=lambda: 1000.0).collect()
    names = by_name(batch)
    assert {metric_name(s) for s in batch.series} <= set(catalog.CATALOG)
    assert set(batch.metadata) == set(names)
    assert (batch.timestamps == 1_000_000).all()
    cpu = names["node_cpu_seconds_total"]
    assert {lbl["mode"] for lbl, _ in cpu} >= {"user", "system", "idle"}
    assert all(lbl["job"] == "node" and lbl["instance"] == "box" for lbl, _ in cpu)
    mem = {n: rows[0][1] for n, rows in names.items() if n.startswith("node_memory_")}
    assert 0 < mem["node_memory_MemAvailable_bytes"] <= mem["node_memory_MemTotal_bytes"]
    assert names["node_boot_time_seconds"][0][1] > 1e9
    assert all(v == 1.0 for _, v in names["node_scrape_collector_success"])
    assert len(set(batch.series)) == len(batch)  # one sample per series


class BrokenDisks(PsutilSource):
    """The real machine, except that disk statistics cannot be read."""

    def disks(self) -> dict[str, tuple[float, float, float, float, float]]:
        raise OSError("/proc/diskstats: permission denied")

    def filesystems(self) -> list[FsUsage]:
        return [FsUsage("/dev/x", "ext4", "/", 100.0, 40.0, 30.0)]


def test_a_failing_collector_is_reported_and_the_rest_still_collected() -> None:
    names = by_name(HostCollector(BrokenDisks(), instance="box").collect())
    success = {lbl["collector"]: v for lbl, v in names["node_scrape_collector_success"]}
    assert success["diskstats"] == 0.0 and success["cpu"] == 1.0
    assert "node_disk_read_bytes_total" not in names
    assert names["node_filesystem_avail_bytes"][0][1] == 30.0


def test_agent_stores_locally(tmp_path: Path) -> None:
    storage = open_storage(StorageSettings(path=tmp_path / "d", wal_fsync=False))
    try:
        agent = Agent(AgentSettings(instance="box"), LocalSink(storage))
        agent.tick()
        found = storage.select([eq("__name__", "node_load1")], 0, 2**62)
        assert len(found) == 1 and dict(found[0].labels)["instance"] == "box"
        assert agent.last_samples > 20
    finally:
        storage.close()


def test_remote_write_sink_retries_5xx_then_delivers() -> None:
    calls: list[SampleBatch] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["content-encoding"] == "snappy"
        calls.append(decode_write_request(request.content))
        return httpx.Response(503 if len(calls) < 3 else 204)

    sink = RemoteWriteSink("http://rw/api/v1/write", transport=httpx.MockTransport(handler))
    Agent(AgentSettings(instance="box"), sink).tick()
    assert len(calls) == 3
    assert any(metric_name(s) == "node_load1" for s in calls[-1].series)


def test_remote_write_sink_does_not_retry_4xx_and_gives_up_on_5xx() -> None:
    codes = {"n": 0}

    def bad(request: httpx.Request) -> httpx.Response:
        codes["n"] += 1
        return httpx.Response(400, text="out of order sample")

    batch = SampleBatch.from_series([((("__name__", "x"),), [1], [1.0])])
    with pytest.raises(InvalidInput, match="out of order sample"):
        RemoteWriteSink("http://rw/w", transport=httpx.MockTransport(bad)).write(batch)
    assert codes["n"] == 1
    down = httpx.MockTransport(lambda r: httpx.Response(500))
    with pytest.raises(Unavailable):
        RemoteWriteSink("http://rw/w", transport=down, attempts=2, max_wait_s=0.01).write(batch)


def test_agent_command_collects_into_a_data_dir(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["agent", "--data", str(tmp_path / "d"), "--count", "2", "--interval", "1s"]
    )
    assert result.exit_code == 0, result.output
    storage = open_storage(StorageSettings(path=tmp_path / "d", wal_fsync=False))
    try:
        (series,) = storage.select([eq("__name__", "node_load1")], 0, 2**62)
        assert len(series.timestamps) == 2 and np.all(np.diff(series.timestamps) > 0)
    finally:
        storage.close()


make_client = api_conftest.make_client  # the app factory fixture, shared with tests/api


def test_serve_collects_the_host_when_agent_enabled(make_client: MakeClient) -> None:
    client = make_client(simulator={"enabled": False}, agent={"enabled": True, "instance": "me"})
    platform = client.app.state.platform  # type: ignore[attr-defined]
    client.portal.call(platform.scheduler.run_once, "host-agent")  # type: ignore[union-attr]
    body = client.get("/api/v1/series", params={"match[]": 'node_load1{instance="me"}'}).json()
    assert body["data"] == [{"__name__": "node_load1", "instance": "me", "job": "node"}]
