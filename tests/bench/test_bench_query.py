"""`openmanager bench query`: ratio arithmetic, and a short real run beside Prometheus."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from openmanager.bench.query import DEFAULT_HARNESS, Cell, QueryBench, harness_module, run
from tests.helpers import require, require_binary


def test_geomean_and_worst_cell() -> None:
    bench = QueryBench(targets=["prometheus", "openmanager"])
    for name, prom, ours in (("a", 10.0, 5.0), ("b", 20.0, 80.0), ("c", 4.0, 4.0)):
        bench.cells.append(Cell(name, "1d", {"prometheus": prom, "openmanager": ours}))
    assert math.isclose(bench.geomean("openmanager"), (0.5 * 4.0 * 1.0) ** (1 / 3))
    assert bench.worst("openmanager").name == "b"
    summary = bench.to_dict()["summary"]["openmanager"]
    assert summary["worst_ratio"] == 4.0 and summary["worst_cell"] == "b 1d"


@pytest.mark.integration
@pytest.mark.slow
def test_short_run_beside_prometheus(tmp_path: Path) -> None:
    """3 days x 1 server of the harness's workload: every cell timed on both, and OpenManager's
    Prometheus 2 window mode gives Prometheus 2.42's values."""
    require_binary("promtool")
    require_binary("prometheus")
    require(DEFAULT_HARNESS.is_dir(), f"peer harness {DEFAULT_HARNESS} not present")
    workload = tmp_path / "workload"
    subprocess.run(
        [
            sys.executable,
            str(DEFAULT_HARNESS / "gen_workload.py"),
            "--out",
            str(workload),
            "--days",
            "3",
            "--servers",
            "1",
        ],
        check=True,
        capture_output=True,
    )
    bench = run(workload, tmp_path / "work", reps=1, targets=("openmanager", "prometheus"))
    module = harness_module(DEFAULT_HARNESS)
    assert len(bench.cells) == len(module.QUERIES) * len(module.RANGES)
    for cell in bench.cells:
        assert cell.median_ms["openmanager"] > 0 and cell.median_ms["prometheus"] > 0
        assert cell.series["openmanager"] == cell.series["prometheus"], cell
        # Sums that are exactly 0 may differ by rounding noise (Kahan vs naive) at one point.
        assert cell.closed_agree_pct is not None and cell.closed_agree_pct >= 99.9, cell
    exact = [c for c in bench.cells if c.closed_agree_pct == 100.0]
    assert len(exact) >= len(bench.cells) - 2
    assert (tmp_path / "work" / "bench-query.json").is_file()
