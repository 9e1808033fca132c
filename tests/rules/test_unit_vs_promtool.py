"""The same rule unit-test files pass (or fail) in both `promtool test rules` and OpenManager."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from openmanager.rules.unittest import run_test_file
from tests.helpers import require_binary

UNIT = Path(__file__).parent / "files" / "unit"


@pytest.mark.parametrize(
    ("name", "should_pass"), [("pass_test.yml", True), ("fail_test.yml", False)]
)
def test_same_outcome_as_promtool(name: str, should_pass: bool) -> None:
    promtool = require_binary("promtool")
    proc = subprocess.run(
        [promtool, "test", "rules", name], cwd=UNIT, capture_output=True, text=True, timeout=120
    )
    assert (proc.returncode == 0) is should_pass, proc.stdout + proc.stderr
    outcome = run_test_file(UNIT / name)
    assert outcome.passed is should_pass, outcome.failures or outcome.error


def test_failure_names_alert_and_time() -> None:
    outcome = run_test_file(UNIT / "fail_test.yml")
    assert len(outcome.failures) == 1
    assert "alertname: InstanceDown, time: 3m" in outcome.failures[0]
