"""Real peers for the host agent: node_exporter's names, and pushing into real receivers.

(a) Every metric the agent reports is one the real `prometheus-node-exporter` exposes on this
machine, with label names the exporter also uses for it. (b) `openmanager agent
--remote-write` delivers into a real Prometheus remote-write receiver and into a real
`openmanager serve`, and both then list the same series.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from openmanager.cli.main import app
from openmanager.ingest.exposition_parse import ParseOptions, parse_text
from openmanager.ingest.host import HostCollector
from openmanager.ingest.host_source import PsutilSource
from openmanager.samples import METRIC_NAME
from tests.peers import run_node_exporter, run_prometheus
from tests.serve_process import serve_process

pytestmark = pytest.mark.integration

TARGET_LABELS = {"job", "instance"}


def _label_names_by_metric(series: list[tuple[tuple[str, str], ...]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for labels in series:
        names = dict(labels)
        out.setdefault(names[METRIC_NAME], set()).update(
            k for k in names if k != METRIC_NAME and k not in TARGET_LABELS
        )
    return out


def test_agent_metrics_are_named_like_the_real_node_exporter(tmp_path: Path) -> None:
    with run_node_exporter(tmp_path) as exporter:
        page = httpx.get(f"{exporter}/metrics", timeout=10).content
    theirs = _label_names_by_metric(
        parse_text(page, ParseOptions(default_timestamp_ms=0)).batch.series
    )
    ours = _label_names_by_metric(HostCollector(PsutilSource()).collect().series)
    assert len(ours) >= 20
    unknown = sorted(set(ours) - set(theirs))
    assert not unknown, f"the agent reports metrics node_exporter does not have: {unknown}"
    for name, labels in ours.items():
        assert labels <= theirs[name], (name, labels, theirs[name])


def _series(url: str, start: float) -> set[tuple[tuple[str, str], ...]]:
    resp = httpx.get(
        f"{url}/api/v1/series",
        params={"match[]": '{job="node",instance="agent-test"}', "start": f"{start:.3f}"},
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    return {tuple(sorted(s.items())) for s in resp.json()["data"]}


def test_agent_pushes_into_real_prometheus_and_openmanager(tmp_path: Path) -> None:
    start = time.time() - 1
    prom_dir = tmp_path / "prom"
    prom_dir.mkdir()
    with (
        run_prometheus(prom_dir, extra_args=["--web.enable-remote-write-receiver"]) as prom,
        serve_process(tmp_path / "om", "--no-simulator") as (om, _),
    ):
        for url in (prom, om):
            result = CliRunner().invoke(
                app,
                ["agent", "--remote-write", f"{url}/api/v1/write", "--count", "2",
                 "--interval", "1s", "--instance", "agent-test"],
            )  # fmt: skip
            assert result.exit_code == 0, result.output
            assert "refused" not in result.output and "failed" not in result.output, result.output
        theirs, ours = _series(prom, start), _series(om, start)
    names = {dict(s)[METRIC_NAME] for s in theirs}
    assert {"node_load1", "node_cpu_seconds_total", "node_memory_MemAvailable_bytes"} <= names
    # Both runs collect the same machine; series that come and go (a process, a mount) may differ.
    stable = {s for s in theirs if dict(s)[METRIC_NAME] in ("node_load1", "node_cpu_seconds_total")}
    assert stable and stable <= ours
    assert len(ours ^ theirs) <= len(theirs) // 10, sorted(ours ^ theirs)[:10]
