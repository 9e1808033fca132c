"""`openmanager rules check` gives the same verdict as the real `promtool check rules`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from openmanager.cli.main import app
from openmanager.rules.rulefile import RuleFileInvalid, parse_rule_file
from tests.helpers import require_binary

FILES = Path(__file__).parent / "files"
VALID = sorted((FILES / "valid").glob("*.yml"))
INVALID = sorted((FILES / "invalid").glob("*.yml"))
DEFAULT_PACK = Path(__file__).parents[2] / "openmanager" / "rules" / "default_rules.yaml"


def _promtool_ok(path: Path) -> bool:
    promtool = require_binary("promtool")
    proc = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    return proc.returncode == 0


def _ours_ok(path: Path) -> bool:
    try:
        parse_rule_file(path)
    except RuleFileInvalid:
        return False
    return True


@pytest.mark.parametrize("path", VALID + INVALID + [DEFAULT_PACK], ids=lambda p: p.name)
def test_same_verdict_as_promtool(path: Path) -> None:
    expected_valid = path.parent.name != "invalid"
    assert _promtool_ok(path) is expected_valid
    assert _ours_ok(path) is expected_valid


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_errors_name_file_and_line(path: Path) -> None:
    with pytest.raises(RuleFileInvalid) as info:
        parse_rule_file(path)
    for problem in info.value.problems:
        assert problem.file == str(path)
        assert problem.line >= 1
        assert problem.message


def test_error_points_at_the_offending_line() -> None:
    with pytest.raises(RuleFileInvalid) as info:
        parse_rule_file(FILES / "invalid" / "bad_expr.yml")
    (problem,) = info.value.problems
    assert problem.line == 5
    assert "could not parse expression" in problem.message


def test_cli_check_exit_codes() -> None:
    runner = CliRunner()
    good = runner.invoke(app, ["rules", "check", str(FILES / "valid" / "basic.yml")])
    assert good.exit_code == 0, good.output
    assert "SUCCESS: 2 rules found" in good.output
    bad = runner.invoke(app, ["rules", "check", str(FILES / "invalid" / "record_for.yml")])
    assert bad.exit_code == 1
    assert "record_for.yml:6:" in bad.output
    assert "invalid field 'for' in recording rule" in bad.output
