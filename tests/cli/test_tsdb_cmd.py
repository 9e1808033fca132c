"""`backfill`, `export` and `tsdb stats` through Typer's CliRunner over temp data dirs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from openmanager.cli import tsdb_cmd
from openmanager.cli.common import console, err_console
from openmanager.config.settings import StorageSettings
from openmanager.ingest.exposition_parse import ParseOptions, parse_text
from openmanager.tsdb.factory import open_storage
from openmanager.tsdb.matchers import Matcher, MatchType

T0 = 1_704_067_200  # 2024-01-01T00:00:00Z
ALL = [Matcher("__name__", MatchType.RE, ".+")]


def make_app() -> typer.Typer:
    """The commands registered as the lead registers them in `openmanager.cli.main`."""
    app = typer.Typer()
    app.command("backfill")(tsdb_cmd.backfill)
    app.command("export")(tsdb_cmd.export)
    app.add_typer(tsdb_cmd.app, name="tsdb")
    return app


@pytest.fixture(autouse=True)
def wide_console() -> Iterator[None]:
    """Rich wraps at 80 columns under CliRunner; widen so rows and messages stay on one line."""
    old = console.width
    console.width = 200
    err_console.width = 200
    yield
    console.width = old
    err_console.width = old


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "openmanager.yaml"
    path.write_text(f"storage:\n  path: {tmp_path / 'data'}\n  wal_fsync: false\n")
    return path


def _input(tmp_path: Path, bad: bool = False) -> Path:
    lines = ["# TYPE cpu gauge"]
    lines += [f'cpu{{server="s{s}"}} {i}.5 {T0 + 15 * i}' for s in range(3) for i in range(40)]
    if bad:
        lines.insert(5, 'cpu{server="x"} 1 1704067200 extra')
    lines.append("# EOF")
    path = tmp_path / "history.om"
    path.write_text("\n".join(lines) + "\n")
    return path


def invoke(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(make_app(), list(args))
    return res.exit_code, res.output


def test_backfill_prints_a_summary_and_stats_show_it(tmp_path: Path, config: Path) -> None:
    code, out = invoke("backfill", str(_input(tmp_path)), "--config", str(config))
    assert code == 0, out
    assert "samples stored" in out and "120" in out
    code, out = invoke("tsdb", "stats", "--config", str(config))
    assert code == 0, out
    assert "total" in out and "tier raw" in out and "2024-01-01 00:00" in out
    store = open_storage(StorageSettings(path=tmp_path / "data"))
    try:
        assert store.stats().samples == 120
    finally:
        store.close()


def test_backfill_with_bad_lines_exits_1_naming_the_line(tmp_path: Path, config: Path) -> None:
    code, out = invoke("backfill", str(_input(tmp_path, bad=True)), "-c", str(config))
    assert code == 1
    assert 'line 6:30: unexpected "extra" after the sample' in out
    assert "rejected: syntax" in out


def test_backfill_of_a_missing_file_or_bad_format_fails_cleanly(
    tmp_path: Path, config: Path
) -> None:
    code, out = invoke("backfill", str(tmp_path / "nope.om"), "-c", str(config))
    assert code == 1 and "does not exist" in out
    code, out = invoke("backfill", str(_input(tmp_path)), "-f", "json", "-c", str(config))
    assert code == 1 and "invalid --format" in out


def test_export_round_trip_through_the_cli(tmp_path: Path, config: Path) -> None:
    assert invoke("backfill", str(_input(tmp_path)), "-c", str(config))[0] == 0
    out_file = tmp_path / "out.om"
    code, out = invoke(
        "export", "--out", str(out_file), "--match", 'cpu{server=~"s0|s2"}',
        "--start", "2024-01-01T00:01:00Z", "--end", str(T0 + 599), "-c", str(config),
    )  # fmt: skip
    assert code == 0, out
    assert "exported 72 samples of 2 series" in out
    got = parse_text(out_file.read_bytes(), ParseOptions(format="openmetrics"))
    assert {dict(s)["server"] for s in got.batch.series} == {"s0", "s2"}
    assert got.batch.timestamps.min() == (T0 + 60) * 1000
    assert got.batch.timestamps.max() == (T0 + 585) * 1000
    config2 = tmp_path / "second.yaml"
    config2.write_text(f"storage:\n  path: {tmp_path / 'data2'}\n  wal_fsync: false\n")
    code, out = invoke("backfill", str(out_file), "-c", str(config2))
    assert code == 0 and "72" in out


def test_export_rejects_a_bad_selector_or_time(tmp_path: Path, config: Path) -> None:
    out_file = str(tmp_path / "x.om")
    code, out = invoke("export", "-o", out_file, "-m", "rate(cpu[5m])", "-c", str(config))
    assert code == 1 and "not a plain series selector" in out
    code, out = invoke("export", "-o", out_file, "--start", "yesterday", "-c", str(config))
    assert code == 1 and "invalid time" in out
