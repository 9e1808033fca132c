"""Stored anomalies: the meta-store table, GET /api/v1/anomalies filters across a restart, the CLI."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import uvicorn
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from openmanager.analytics.detect.evidence import Evidence
from openmanager.api.app import create_app
from openmanager.cli.main import app as cli_app
from openmanager.config import load_settings
from openmanager.meta.db import open_meta
from openmanager.samples import SampleBatch, make_labels
from openmanager.services.anomaly import Check
from openmanager.services.anomaly_store import AnomalyStore
from openmanager.services.platform import Platform
from tests.helpers import free_port

T0 = 1_700_000_000.0


def _ev(server: str, check: str, at: float, score: float = 0.8) -> Evidence:
    return Evidence(
        {"server": server}, check, "ensemble", at - 15, at, 1.0, 0.5, 1.5, 9.0, score,
        ("seasonal",), f'node_load1{{server="{server}"}}',
    )  # fmt: skip


def test_store_filters_and_survives_reopening(tmp_path: Path) -> None:
    meta = open_meta("", tmp_path)
    store = AnomalyStore(meta)
    store.add([("node_load1", _ev("a", "load", T0)), ("node_memory", _ev("b", "memory", T0 + 60))])
    store.add([("node_load1", _ev("a", "load", T0 + 120, 0.95))])
    meta.close()
    store = AnomalyStore(open_meta("", tmp_path))  # a restart
    rows = store.list()
    assert [r["window_end"] for r in rows] == [T0 + 120, T0 + 60, T0]  # newest first
    assert rows[0]["score"] == 0.95 and rows[0]["metric"] == "node_load1"
    assert rows[0]["agreeing"] == ["seasonal"] and rows[0]["expected"] == 1.0
    assert {r["series"]["server"] for r in store.list(server="a")} == {"a"}
    assert len(store.list(metric="node_memory")) == 1 and len(store.list(metric="load")) == 2
    assert [r["window_end"] for r in store.list(since_s=T0 + 60)] == [T0 + 120, T0 + 60]
    assert len(store.list(limit=1)) == 1
    assert store.list(server="nobody") == []
    store.meta.close()


def test_store_keeps_only_the_newest(tmp_path: Path) -> None:
    meta = open_meta("", tmp_path)
    store = AnomalyStore(meta, keep=3)
    for i in range(5):
        store.add([("m", _ev("a", "c", T0 + i))])
    assert [r["window_end"] for r in store.list()] == [T0 + 4, T0 + 3, T0 + 2]
    meta.close()


def _platform(data: Path, now: float) -> Platform:
    settings = load_settings(
        None, {"profile": "test", "storage": {"path": str(data)}, "simulator": {"enabled": False}}
    )
    platform = Platform(settings, clock=lambda: now)
    platform.anomalies.checks = (Check("load", "node_load1"),)
    return platform


def _feed(platform: Platform, spikes: dict[str, int], n: int = 120) -> None:
    """node_load1 of servers x and y, each with a spike from its row on; a tick every 15 s."""
    keys = [make_labels("node_load1", {"instance": s}) for s in ("x", "y")]
    svc = platform.anomalies
    for i in range(n):
        t = T0 + 15.0 * i
        v = np.array([1.0 + 0.05 * np.sin(i), 2.0 + 0.05 * np.cos(i)])
        for j, s in enumerate(("x", "y")):
            if spikes.get(s) in (i, i - 1):  # held two scrapes
                v[j] = 50.0
        platform.storage.append(SampleBatch(keys, np.arange(2), np.full(2, int(t * 1000)), v))
        svc.clock = lambda t=t: t
        svc.tick()


def test_api_filters_and_listing_survives_a_restart(tmp_path: Path) -> None:
    platform = _platform(tmp_path / "d", T0 + 1800)
    with TestClient(create_app(platform)) as client:
        _feed(platform, {"x": 100, "y": 110})
        body = client.get("/api/v1/anomalies").json()
        assert body["status"] == "success"
        servers = {e["series"]["instance"] for e in body["data"]}
        assert servers == {"x", "y"}
        only_x = client.get("/api/v1/anomalies", params={"server": "x"}).json()["data"]
        assert only_x and all(e["series"]["instance"] == "x" for e in only_x)
        assert only_x[-1]["observed"] == 50.0 and only_x[-1]["window_end"] == T0 + 1515.0
        by_metric = client.get("/api/v1/anomalies", params={"metric": "node_load1"}).json()
        assert len(by_metric["data"]) == len(body["data"])
        assert client.get("/api/v1/anomalies", params={"metric": "nope"}).json()["data"] == []
        later = client.get("/api/v1/anomalies", params={"since": str(T0 + 1600.0)}).json()
        assert later["data"] and all(e["window_end"] >= T0 + 1600.0 for e in later["data"])
        # a duration counts back from the platform clock (T0 + 1800): the last 4 minutes
        recent = client.get("/api/v1/anomalies", params={"since": "4m"}).json()["data"]
        assert recent and all(e["window_end"] >= T0 + 1560.0 for e in recent)
        assert len(client.get("/api/v1/anomalies", params={"limit": 1}).json()["data"]) == 1
        assert client.get("/api/v1/anomalies", params={"since": "yesterday"}).status_code == 400
        before = body["data"]
    platform.meta.close()
    again = _platform(tmp_path / "d", T0 + 1800)  # restart: a new platform over the same data dir
    with TestClient(create_app(again)) as client:
        assert client.get("/api/v1/anomalies").json()["data"] == before
    again.meta.close()


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli_app, list(args))
    return result.exit_code, result.output


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Platform]]:
    platform = _platform(tmp_path / "d", time.time())
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(platform), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", platform
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def test_cli_lists_from_a_running_server_and_the_local_store(
    served: tuple[str, Platform], tmp_path: Path
) -> None:
    url, platform = served
    now = time.time()
    assert platform.anomalies.store is not None
    platform.anomalies.store.add(
        [("node_load1", _ev("web-1", "load", now - 60)), ("m", _ev("db-1", "memory", now - 7200))]
    )
    code, out = _invoke("anomalies", "list", "--url", url, "--json")
    assert code == 0, out
    assert [r["series"]["server"] for r in json.loads(out)] == ["web-1", "db-1"]
    code, out = _invoke("anomalies", "list", "--url", url, "--since", "1h", "--json")
    assert code == 0 and [r["series"]["server"] for r in json.loads(out)] == ["web-1"]
    code, out = _invoke("anomalies", "list", "--url", url, "--server", "db-1")
    assert code == 0 and "db-1" in out and "memory" in out and "web-1" not in out
    code, out = _invoke("anomalies", "list", "--url", url, "--since", "soon")
    assert code != 0 and "soon" in out
    config = tmp_path / "om.yml"
    config.write_text(f"storage:\n  path: {tmp_path / 'd'}\n")
    code, out = _invoke("anomalies", "list", "-c", str(config), "--metric", "load")
    assert code == 0 and "web-1" in out and "db-1" not in out
    code, out = _invoke("anomalies", "list", "--url", "http://127.0.0.1:9")
    assert code != 0 and "cannot reach" in out
