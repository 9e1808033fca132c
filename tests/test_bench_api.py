"""`openmanager bench api`: grading thresholds, and a short real run with locust."""

from __future__ import annotations

import importlib.util
import json

import pytest
from typer.testing import CliRunner

from openmanager.bench.api import endpoint_names
from openmanager.bench.api_grade import THRESHOLDS, EndpointResult, grade
from openmanager.cli.main import app
from openmanager.errors import InvalidInput
from tests.helpers import require


def test_grades_follow_the_stated_thresholds() -> None:
    assert grade(2500, 20, 0.0) == "A"
    assert grade(2500, 60, 0.0) == "B", "p99 over 50 ms is not an A whatever the throughput"
    assert grade(1999, 10, 0.0) == "B"
    assert grade(5000, 10, 0.2) == "B", "errors above 0.1% are not an A"
    assert grade(600, 200, 0.0) == "C"
    assert grade(150, 900, 4.0) == "D"
    assert grade(99, 10, 0.0) == "F"
    assert [t.grade for t in THRESHOLDS] == ["A", "B", "C", "D"]
    assert EndpointResult("x", 0, 0, 0, 0, 0, 0, 0).grade() == "F", "no requests is a failure"


def test_unknown_endpoints_are_refused_with_the_choices() -> None:
    assert endpoint_names(["fleet", "range"]) == ["fleet summary", "range query"]
    with pytest.raises(InvalidInput, match="choose from"):
        endpoint_names(["fleet", "nope"])


@pytest.mark.slow
def test_short_run_against_a_started_instance() -> None:
    # Not imported here: locust monkey-patches the whole process with gevent on import.
    found = importlib.util.find_spec("locust") is not None
    require(found, "locust is not installed (pip install 'openmanager[load]')")
    result = CliRunner().invoke(
        app,
        ["bench", "api", "--duration", "3", "--concurrency", "4", "--backfill", "5m", "--json"],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    names = [e["name"] for e in data["endpoints"]]
    assert names == ["fleet summary", "instant query", "range query"]
    for e in data["endpoints"]:
        assert e["requests"] > 0 and e["failures"] == 0, e
        assert 0 < e["p50_ms"] <= e["p99_ms"] <= e["max_ms"]
        assert e["grade"] in "ABCDF"
    assert data["total"]["requests"] == sum(e["requests"] for e in data["endpoints"])
