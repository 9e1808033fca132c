"""benchmarks/log_search.py runs end to end on a small fleet and prints every query shape."""

from __future__ import annotations

import pytest

from benchmarks.log_search import main, percentile


def test_small_run_prints_every_shape(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--days", "0.1", "--servers", "4", "--repeat", "5"]) == 0
    out = capsys.readouterr().out
    assert "lines over 0.1 days x 4 servers" in out
    for shape in ("server, 1h window", "fleet, errors, 1 day", "common word 'GET'", "newest 100"):
        assert shape in out
    assert "meets the 100 ms target" in out


def test_percentile_is_nearest_rank() -> None:
    xs = [float(x) for x in range(1, 101)]
    assert percentile(xs, 50) == 51.0
    assert percentile(xs, 99) == 99.0
    assert percentile([3.0], 99) == 3.0
