"""`openmanager logs` (local store and a running server) and `openmanager simulate` writing logs."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from openmanager.logs.record import LogRecord
from openmanager.logs.store import LogStore
from tests.serve_process import serve_process

START = "2024-03-01T00:00:00Z"
START_MS = 1_709_251_200_000
HOUR = 3_600_000


def cli(*args: str) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "openmanager.cli.main", *args]
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    proc.communicate(timeout=10)  # reaps it and closes its pipes


def read_lines(proc: subprocess.Popen[str], want: int, timeout_s: float) -> list[str]:
    """Up to `want` stdout lines of a running process within `timeout_s` (unbuffered reads)."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)
    buf = PENDING.pop(fd, b"")
    deadline = time.monotonic() + timeout_s
    while buf.count(b"\n") < want and time.monotonic() < deadline:
        if sel.select(timeout=0.2):
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            buf += chunk
    sel.close()
    lines = buf.split(b"\n")
    done, rest = lines[:want], lines[want:]
    if len(lines) <= want:  # the last piece is an unfinished line
        done, rest = lines[:-1], lines[-1:]
    PENDING[fd] = b"\n".join(rest)
    return [x.decode() for x in done]


PENDING: dict[int, bytes] = {}
"""Bytes read past the lines returned, per pipe."""


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`openmanager simulate` over 3 h with a disk-full cascade on db-primary-01."""
    out = tmp_path_factory.mktemp("sim")
    from openmanager.cli.main import app

    result = CliRunner().invoke(
        app,
        ["simulate", "--out", str(out), "--duration", "3h", "--start", START, "--interval", "1m",
         "--no-faults", "--trigger", "disk_full:db-primary-01:+5m"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "log lines" in result.output
    return out / "logs"


def run(*args: str) -> tuple[int, str]:
    from openmanager.cli.main import app

    result = CliRunner().invoke(app, ["logs", *args], env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_simulate_writes_a_searchable_log_store(simulated: Path) -> None:
    assert LogStore(simulated).count() > 3 * 60 * 20 * 3
    code, out = run("--store", str(simulated), "--server", "db-primary-01", "--level", "error",
                    "--since", "3h", "--until", "2024-03-01T03:00:00Z", "--grep", "No space left")  # fmt: skip
    assert code == 0, out
    lines = out.splitlines()
    assert len(lines) >= 5
    assert all("db-primary-01" in x and "No space left on device" in x for x in lines)
    times = [x.split()[0] for x in lines]
    assert times == sorted(times)  # oldest first, like tail


def test_json_output_and_limit(simulated: Path) -> None:
    code, out = run("--store", str(simulated), "--since", "1h", "--until", "2024-03-01T03:00:00Z",
                    "--limit", "7", "--json")  # fmt: skip
    assert code == 0, out
    rows = [json.loads(x) for x in out.splitlines()]
    assert len(rows) == 7
    assert rows[-1]["time_ms"] <= START_MS + 3 * HOUR
    assert rows == sorted(rows, key=lambda r: r["time_ms"])


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--level", "loud"], "unknown log level 'loud'"),
        (["--since", "yesterday"], "duration"),
        (["--limit", "0"], "limit"),
        (["--grep", " "], "blank"),
    ],
)
def test_bad_options_are_clear_errors(tmp_path: Path, args: list[str], needle: str) -> None:
    code, out = run("--store", str(tmp_path), *args)
    assert code == 1
    assert needle in out


def test_follow_prints_new_lines_once(tmp_path: Path) -> None:
    store = LogStore(tmp_path)
    now = int(time.time() * 1000)
    store.add([LogRecord(now - 5_000, "web-01", "info", "app", "before follow")])
    proc = cli("logs", "--store", str(tmp_path), "--follow", "--interval", "0.2", "--json")
    try:
        first = read_lines(proc, 1, 90)
        assert [json.loads(x)["message"] for x in first] == ["before follow"]
        t = int(time.time() * 1000)
        store.add([LogRecord(t, "web-01", "error", "app", f"new {i}") for i in range(3)])
        later = read_lines(proc, 3, 20)
        assert [json.loads(x)["message"] for x in later] == ["new 0", "new 1", "new 2"]
        store.add([LogRecord(t, "web-01", "error", "app", "same millisecond, later")])
        assert [json.loads(x)["message"] for x in read_lines(proc, 1, 20)] == [
            "same millisecond, later"
        ]
        assert read_lines(proc, 1, 1.0) == []  # nothing repeated
    finally:
        stop(proc)


@pytest.mark.slow
def test_follow_a_running_server(tmp_path: Path) -> None:
    config = tmp_path / "om.yaml"
    config.write_text("simulator:\n  interval: 1s\n  backfill: 5m\n  fault_rate_scale: 0\n")
    with serve_process(tmp_path / "data", "--config", str(config)) as (url, _proc):
        code, out = run("--url", url, "--server", "db-primary-01", "--since", "5m", "--limit", "5")
        assert code == 0, out
        assert len(out.splitlines()) == 5 and "db-primary-01" in out
        proc = cli("logs", "--url", url, "--since", "1s", "--follow", "--interval", "0.3", "--json")
        try:
            got = [json.loads(x) for x in read_lines(proc, 10, 60)]
        finally:
            stop(proc)
    assert len(got) == 10
    keys = [(r["time_ms"], r["server"], r["message"]) for r in got]
    assert len(set(keys)) == len(keys)
    assert [r["time_ms"] for r in got] == sorted(r["time_ms"] for r in got)
