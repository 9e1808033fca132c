"""The same rule unit-test files pass (or fail) in both `promtool test rules` and OpenManager."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from openmanager.rules.unittest import run_test_file
from tests.helpers import require_binary

UNIT = Path(__file__).parent / "files" / "unit"


CASES = sorted(p.name for p in UNIT.glob("*_test.yml"))


@pytest.mark.parametrize("name", CASES)
def test_same_outcome_as_promtool(name: str) -> None:
    """Files named *fail* must fail in both tools, the others pass in both."""
    should_pass = "fail" not in name
    promtool = require_binary("promtool")
    proc = subprocess.run(
        [promtool, "test", "rules", name], cwd=UNIT, capture_output=True, text=True, timeout=120
    )
    assert (proc.returncode == 0) is should_pass, proc.stdout + proc.stderr
    outcome = run_test_file(UNIT / name)
    assert outcome.passed is should_pass, outcome.failures or outcome.error


def test_enough_cases() -> None:
    assert sum("fail" in c for c in CASES) >= 3 and sum("fail" not in c for c in CASES) >= 3


def test_annotation_mismatch_is_reported() -> None:
    outcome = run_test_file(UNIT / "templates_fail_test.yml")
    assert len(outcome.failures) == 1
    assert "92.0% used" in outcome.failures[0] and "92% used" in outcome.failures[0]


def test_rule_error_stops_the_case() -> None:
    outcome = run_test_file(UNIT / "limit_fail_test.yml")
    assert outcome.failures == [
        "    rule: TooMany, time: 0s, err: exceeded limit of 1 with 2 alerts"
    ]


def test_failure_names_alert_and_time() -> None:
    outcome = run_test_file(UNIT / "fail_test.yml")
    assert len(outcome.failures) == 1
    assert "alertname: InstanceDown, time: 3m" in outcome.failures[0]
