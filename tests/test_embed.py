"""The embedding API (`from openmanager import Platform`): lifecycle, callbacks, PromQL, HTTP, example."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)

from openmanager import Platform
from openmanager.errors import Conflict, InvalidInput
from openmanager.samples import SampleBatch, make_labels
from tests.export_http import Request, receiver

ROOT = Path(__file__).resolve().parent.parent


def quiet(tmp_path: Path, **kw: Any) -> Platform:
    """A platform without the simulator over a temp store."""
    return Platform(
        profile="test", storage={"path": str(tmp_path / "data")}, simulator={"enabled": False}, **kw
    )


def wait_for(check: Any, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def test_import_is_lazy() -> None:
    code = "import sys, openmanager; assert 'openmanager.embed' not in sys.modules; openmanager.Platform"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_query_and_callbacks_without_an_event_loop(tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []
    resolved: list[dict[str, Any]] = []
    om = quiet(tmp_path)
    om.on("alert_firing", seen.append)  # before start
    with pytest.raises(Conflict, match="not running"):
        om.query("1")
    with om:
        om.on("alert_resolved", resolved.append)  # after start
        now_ms = int(time.time() * 1000)
        labels = make_labels("temperature", {"room": "a"})
        om.services.storage.append(
            SampleBatch.from_series([(labels, [now_ms - 60_000, now_ms], [20.0, 21.5])])
        )
        (row,) = om.query("temperature")
        assert row["metric"] == {"__name__": "temperature", "room": "a"}
        assert row["value"][1] == 21.5
        (rng,) = om.query(
            "temperature * 2", start=now_ms / 1000 - 60, end=now_ms / 1000, step="30s"
        )
        assert [v for _, v in rng["values"]] == [40.0, 40.0, 43.0]
        assert om.query("1 + 1")[0]["value"][1] == 2.0
        with pytest.raises(InvalidInput):
            om.query("sum(")
        with pytest.raises(InvalidInput, match="needs start"):
            om.query("up", end=1.0)

        om.services.bus.publish("alerts", {"status": "firing", "alertname": "Hot"})
        om.services.bus.publish("alerts", {"status": "resolved", "alertname": "Hot"})
        wait_for(lambda: len(seen) == 1 and len(resolved) == 1)
        assert seen[0]["alertname"] == "Hot" and resolved[0]["status"] == "resolved"
        assert threading.current_thread() is threading.main_thread()
        with pytest.raises(InvalidInput, match="unknown event"):
            om.on("alert_fired", print)
        with pytest.raises(Conflict, match="simulator is disabled"):
            om.trigger_fault("cpu_spike")
    with pytest.raises(Conflict):
        om.query("1")


def test_failing_callback_does_not_stop_the_others(tmp_path: Path) -> None:
    got: list[dict[str, Any]] = []

    def broken(payload: dict[str, Any]) -> None:
        raise RuntimeError("host bug")

    with quiet(tmp_path) as om:
        bad = om.on("anomaly_detected", broken)
        om.on("anomaly_detected", got.append)
        for i in range(3):
            om.services.bus.publish("anomalies", {"n": i})
        wait_for(lambda: len(got) == 3 and bad.errors == 3)
        bad.cancel()
        om.services.bus.publish("anomalies", {"n": 3})
        wait_for(lambda: len(got) == 4)
        assert bad.errors == 3


def test_serves_http_and_runs_exporters(tmp_path: Path) -> None:
    bodies: list[ExportMetricsServiceRequest] = []

    def collector(req: Request) -> tuple[int, bytes]:
        msg = ExportMetricsServiceRequest()
        msg.ParseFromString(req.body)
        bodies.append(msg)
        return 200, b""

    with receiver(collector) as (otlp_url, _):
        exporters = [{"name": "otel", "kind": "otlp", "url": otlp_url, "interval": "1h"}]
        with quiet(tmp_path, serve_http=True, exporters=exporters) as om:
            assert om.url is not None
            assert httpx.get(f"{om.url}/-/healthy", timeout=10).status_code == 200
            now_ms = int(time.time() * 1000)
            om.services.storage.append(
                SampleBatch.from_series([(make_labels("x", {"a": "b"}), [now_ms], [7.0])])
            )
            jobs = httpx.get(f"{om.url}/api/v1/status/jobs", timeout=10).json()["data"]
            assert "export:otel" in {j["name"] for j in jobs["jobs"]}
            (status,) = jobs["exporters"]
            assert status["name"] == "otel" and status["dead_letter_samples"] == 0
        # stopping gave the exporter its last run: the sample written above was sent
        points = [
            dp
            for b in bodies
            for rm in b.resource_metrics
            for sm in rm.scope_metrics
            for m in sm.metrics
            if m.name == "x"
            for dp in m.gauge.data_points
        ]
        assert [(dp.time_unix_nano, dp.as_double) for dp in points] == [(now_ms * 1_000_000, 7.0)]


@pytest.mark.slow
def test_example_runs() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "embed_platform.py"), "--seconds", "60"],
        capture_output=True, text=True, timeout=240, env=env, cwd=ROOT,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.splitlines()
    assert "injected service_crash on k8s-api-01" in lines
    assert "alert firing: ServiceDown k8s-api-01" in lines
    assert "query: service_up{server=k8s-api-01} = 0.0" in lines
    assert any(line.startswith("range query: fleet cpu over 10m,") for line in lines)
    assert lines[-1] == "stopped"


def test_restart_keeps_subscriptions_and_data(tmp_path: Path) -> None:
    got: list[dict[str, Any]] = []
    om = quiet(tmp_path)
    om.on("forecast", got.append)

    def ours() -> list[int]:  # the exhaustion job publishes on this channel too
        return [p["n"] for p in got if "n" in p]

    now_ms = int(time.time() * 1000)
    with om:
        om.services.storage.append(
            SampleBatch.from_series([(make_labels("y", {}), [now_ms], [3.0])])
        )
        om.services.bus.publish("forecasts", {"n": 1})
        wait_for(lambda: ours() == [1])
    with pytest.raises(Conflict):
        om.services  # noqa: B018 (the property raises when stopped)
    with om:  # a second start over the same store
        assert om.query("y", time=now_ms / 1000)[0]["value"][1] == 3.0
        om.services.bus.publish("forecasts", {"n": 2})
        wait_for(lambda: ours() == [1, 2])
