"""`openmanager query` against a local store and against a running server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from openmanager.cli.main import app
from openmanager.config import load_settings
from openmanager.samples import SampleBatch, make_labels
from openmanager.tsdb.factory import open_storage


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OPENMANAGER_STORAGE__PATH", str(tmp_path))
    monkeypatch.setenv("OPENMANAGER_PROFILE", "test")
    storage = open_storage(load_settings().storage)
    batch = SampleBatch.from_series(
        [
            (make_labels("load", {"server": "a"}), [1_000_000, 1_060_000], [1.0, 2.0]),
            (make_labels("load", {"server": "b"}), [1_000_000, 1_060_000], [3.0, 5.0]),
        ]
    )
    storage.append(batch)
    storage.close()
    return tmp_path


def test_instant_query_prints_json(store: Path) -> None:
    result = CliRunner().invoke(app, ["query", "sum(load)", "--time", "1060", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "resultType": "vector",
        "result": [{"metric": {}, "value": [1060, "7"]}],
    }


def test_range_query_table(store: Path) -> None:
    result = CliRunner().invoke(
        app, ["query", "max(load)", "--start", "1000", "--end", "1060", "--step", "60"]
    )
    assert result.exit_code == 0, result.output
    assert "matrix result" in result.output and "2 (5)" in result.output


def test_bad_query_is_a_clear_error(store: Path) -> None:
    result = CliRunner().invoke(app, ["query", "sum(load"])
    assert result.exit_code == 1
    assert "parse error" in result.output


def test_half_a_range_is_rejected(store: Path) -> None:
    result = CliRunner().invoke(app, ["query", "load", "--start", "1000"])
    assert result.exit_code == 1 and "both --start and --end" in result.output
