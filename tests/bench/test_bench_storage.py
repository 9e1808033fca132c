"""`openmanager bench storage` end to end on a tiny workload made by the peers' own generator."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from openmanager.bench.peers import default_harness
from openmanager.cli.main import app
from tests.helpers import require, require_binary


def _harness() -> Path:
    harness = default_harness()
    require((harness / "gen_workload.py").is_file(), f"peers' harness not found at {harness}")
    return harness


def _run(tmp_path: Path, *extra: str) -> tuple[str, dict[str, Any]]:
    out = tmp_path / "figures.json"
    args = ["bench", "storage", "--work", str(tmp_path / "w"), "--days", "1", "--servers", "1"]
    args += ["--peers-dir", str(_harness()), "--json", str(out), *extra]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    figures: dict[str, Any] = json.loads(out.read_text())
    return res.output, figures


@pytest.mark.slow
def test_bench_storage_tiny_without_peers(tmp_path: Path) -> None:
    output, f = _run(tmp_path, "--skip-peers", "--memory-sizes", "3000")
    emb = f["embedded"]
    assert f["samples"] == 25 * 5760 and f["series"] == 25
    assert emb["verify"]["ok"] and emb["samples_stored"] == emb["stats_samples"] == f["samples"]
    assert 0.2 < emb["bytes_per_sample_raw_wal"] < 3.0
    assert emb["load_samples_per_s"] > 0 and emb["bytes_wal"] == 0
    assert sorted(k["kind"] for k in f["kinds"]) == [
        "counter_http_requests",
        "counter_net_bytes",
        "gauge_1dec",
        "gauge_2dec",
        "gauge_int",
        "histogram_6le_sum_count",
    ]
    assert sum(k["samples"] for k in f["kinds"]) == f["samples"]
    assert [m["series"] for m in f["memory"]] == [3000] and f["memory"][0]["bytes_per_series"] > 0
    assert "read-back bit-exact: OK" in output and "openmanager load" in output
    assert re.search(r"OpenManager\s*│\s*[0-9.]+", output)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_bench_storage_tiny_with_peers(tmp_path: Path) -> None:
    for binary in ("promtool", "prometheus", "victoria-metrics", "curl"):
        require_binary(binary)
    output, f = _run(tmp_path, "--skip-memory")
    by_name = {p["name"]: p for p in f["peers"]}
    assert set(by_name) == {"Prometheus", "VictoriaMetrics"}
    for p in by_name.values():
        assert p["bytes_per_sample"] > 0 and p["load_samples_per_s"] > 0
    assert by_name["Prometheus"]["raw"]["samples_stored"] == f["samples"]
    assert all(k["victoriametrics"] and k["prometheus"] for k in f["kinds"])
    assert "VictoriaMetrics" in output and "Prometheus" in output
