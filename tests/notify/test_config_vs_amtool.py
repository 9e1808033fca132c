"""Alertmanager-dialect configuration: the same verdicts as `amtool check-config`, with lines."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from openmanager.errors import ConfigError
from openmanager.notify.config import load_config
from openmanager.notify.route import build_route
from tests.helpers import require_binary

CONFIGS = Path(__file__).parent / "configs"
FILES = sorted(CONFIGS.glob("*/*.yml"))


def ours(path: Path) -> str | None:
    """None if we accept the file, else our error message."""
    try:
        load_config(path)
    except ConfigError as exc:
        return exc.message
    return None


@pytest.mark.parametrize("path", FILES, ids=[f"{p.parent.name}/{p.stem}" for p in FILES])
def test_same_verdict_as_amtool(path: Path) -> None:
    amtool = require_binary("amtool")
    proc = subprocess.run(
        [amtool, "check-config", str(path)], capture_output=True, text=True, timeout=60
    )
    theirs_ok = proc.returncode == 0
    mine = ours(path)
    assert (mine is None) == theirs_ok, f"amtool: {proc.stdout}{proc.stderr}\nours: {mine}"
    assert (mine is None) == (path.parent.name == "valid")


@pytest.mark.parametrize(
    ("name", "line", "reason"),
    [
        ("unknown_field", 3, "field foo not found"),
        ("undefined_receiver", 4, 'undefined receiver "y" used in route'),
        ("bad_duration", 3, 'not a valid duration string: "5 minutes"'),
        ("bad_regex", 6, "invalid regular expression"),
        ("dup_receiver", 5, 'notification config name "x" is not unique'),
        ("webhook_no_url", 6, "one of url or url_file must be configured"),
        ("bad_yaml", 3, "invalid YAML"),
        ("dup_key", 3, "already set in map"),
        ("bad_time", 8, "start time cannot be equal or greater than end time"),
        ("wildcard_and_labels", 3, "cannot have wildcard group_by"),
    ],
)
def test_errors_name_file_line_and_reason(name: str, line: int, reason: str) -> None:
    path = CONFIGS / "invalid" / f"{name}.yml"
    message = ours(path)
    assert message is not None
    assert message.startswith(f"{path}:{line}: "), message
    assert reason in message


def test_full_config_resolves_inheritance() -> None:
    cfg = load_config(CONFIGS / "valid" / "full.yml")
    root = build_route(cfg.route)
    assert (root.group_wait_s, root.group_interval_s, root.repeat_interval_s) == (30, 300, 10800)
    mails, files, db = root.routes
    assert mails.receiver == "team-x-mails" and mails.group_by == (
        "alertname",
        "cluster",
        "service",
    )
    assert mails.routes[0].receiver == "team-x-pager" and mails.routes[0].repeat_interval_s == 10800
    assert files.continue_ and files.mute_time_intervals == ("offhours",)
    assert db.group_by_all and db.active_time_intervals == ("workhours",)
    assert root.match({"service": "foo1", "severity": "critical"})[0].receiver == "team-x-pager"
    assert [r.receiver for r in root.match({"service": "files"})] == ["team-y-mails"]
    assert [r.receiver for r in root.match({"service": "database"})] == ["team-db"]
    assert [r.receiver for r in root.match({"service": "other"})] == ["team-x"]
    assert cfg.receivers["team-db"].unsupported == ["pagerduty"]
    assert cfg.receivers["team-x-mails"].emails[0].smarthost == ("localhost", 25)
    assert cfg.receivers["team-y-mails"].emails[0].smarthost == ("mail.example.org", 587)
    assert cfg.receivers["team-x-pager"].slacks[0].api_url.startswith("https://hooks.slack.com/")
