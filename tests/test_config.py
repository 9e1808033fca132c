"""Configuration: layering (profile < file < environment) and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from openmanager.cli.main import app
from openmanager.config import load_settings
from openmanager.config.docs import settings_markdown, settings_rows
from openmanager.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "openmanager.yaml"
    path.write_text(text)
    return path


def test_defaults_are_development_profile() -> None:
    s = load_settings()
    assert s.profile == "development"
    assert s.server.port == 8080
    assert s.simulator.servers == 20


def test_file_overrides_profile_and_env_overrides_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = write(tmp_path, "profile: test\nserver:\n  port: 9999\nsimulator:\n  seed: 7\n")
    s = load_settings(cfg)
    assert (s.profile, s.server.port, s.simulator.seed) == ("test", 9999, 7)
    assert s.storage.wal_fsync is False  # from the test profile
    monkeypatch.setenv("OPENMANAGER_SERVER__PORT", "7777")
    assert load_settings(cfg).server.port == 7777


def test_production_profile_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENMANAGER_PROFILE", "production")
    s = load_settings()
    assert s.simulator.enabled is False and s.server.host == "0.0.0.0"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("server:\n  port: 70000\n", ["server.port", "70000", "less than or equal to 65535"]),
        (
            "server:\n  log_level: loud\n",
            ["server.log_level", "'loud'", "'debug', 'info', 'warning' or 'error'"],
        ),
        (
            "storage:\n  retention:\n    raw: seven days\n",
            ["storage.retention.raw", "seven days", "pattern"],
        ),
        ("simulator:\n  colour: blue\n", ["simulator.colour", "unknown setting"]),
        ("profile: staging\n", ["profile", "'staging'", "development, production, test"]),
        ("server: [1, 2\n", ["not valid YAML", "line 1"]),
        ("- just\n- a list\n", ["must hold a mapping"]),
    ],
)
def test_invalid_values_name_key_value_and_allowed(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text))
    for fragment in expected:
        assert fragment in info.value.message


def test_invalid_environment_value_names_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENMANAGER_SIMULATOR__SERVERS", "zero")
    with pytest.raises(ConfigError, match=r"simulator\.servers = 'zero'"):
        load_settings()


def test_cli_validate_and_export_round_trip(tmp_path: Path) -> None:
    runner = CliRunner()
    cfg = write(tmp_path, "server:\n  port: 9100\n")
    out = tmp_path / "exported.yaml"
    result = runner.invoke(app, ["config", "export", "--config", str(cfg), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert load_settings(out).server.port == 9100
    ok = runner.invoke(app, ["config", "validate", "--config", str(out)])
    assert ok.exit_code == 0 and "valid" in ok.output


def test_cli_validate_rejects_bad_file_with_exit_2(tmp_path: Path) -> None:
    cfg = write(tmp_path, "server:\n  port: -1\n")
    result = CliRunner().invoke(app, ["config", "validate", "--config", str(cfg)])
    assert result.exit_code == 2
    assert "server.port" in result.output


def test_every_setting_is_documented_in_readme() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert settings_markdown() in readme, (
        "README's settings table is stale: paste `openmanager config docs`"
    )
    for key, _, description in settings_rows():
        assert description, f"setting {key} has no description"
