"""Following real files: appends, partial lines, rotation by rename, truncation, new files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from openmanager.logs.record import parse_level
from openmanager.logs.tail import FileTailer


def write(path: Path, text: str) -> None:
    with path.open("a") as f:
        f.write(text)


def messages(t: FileTailer) -> list[str]:
    return [r.message for r in t.poll()]


def test_follows_appends_from_the_end_and_waits_for_whole_lines(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    write(log, "old line before we started\n")
    t = FileTailer([str(log)], "host-1", clock=lambda: 1_700_000_000.5)
    assert messages(t) == []
    write(log, "INFO started\nERROR disk on fi")
    got = t.poll()
    assert [(r.message, r.level, r.server, r.source, r.ts_ms) for r in got] == [
        ("INFO started", "info", "host-1", "app.log", 1_700_000_000_500)
    ]
    write(log, "re\n")
    assert messages(t) == ["ERROR disk on fire"]
    assert messages(t) == []


def test_rotation_by_rename_reads_the_old_file_to_its_end_then_the_new_one(tmp_path: Path) -> None:
    log = tmp_path / "syslog"
    log.touch()
    t = FileTailer([str(log)], "h")
    t.poll()
    write(log, "one\n")
    assert messages(t) == ["one"]
    write(log, "two, written just before rotation\n")
    os.rename(log, tmp_path / "syslog.1")
    write(log, "three, in the new file\n")
    assert messages(t) == ["two, written just before rotation", "three, in the new file"]
    write(log, "four\n")
    write(tmp_path / "syslog.1", "late write to the rotated file is not followed\n")
    assert messages(t) == ["four"]


def test_copytruncate_restarts_at_the_beginning(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.touch()
    t = FileTailer([str(log)], "h")
    t.poll()
    write(log, "a long line before truncation\n")
    assert messages(t) == ["a long line before truncation"]
    log.write_text("")
    write(log, "after\n")
    assert messages(t) == ["after"]


def test_glob_picks_up_new_files_from_their_start_and_drops_removed_ones(tmp_path: Path) -> None:
    t = FileTailer([str(tmp_path / "*.log")], "h")
    assert t.poll() == []
    write(tmp_path / "new.log", "first\nsecond\n")
    assert messages(t) == ["first", "second"]
    (tmp_path / "new.log").unlink()
    assert t.poll() == []
    t.close()


def test_from_start_reads_existing_content_and_skips_blank_lines(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_bytes(b"kept\n\n   \nbad utf8 \xff here\r\n")
    t = FileTailer([str(log)], "h", from_start=True)
    assert messages(t) == ["kept", "bad utf8 \ufffd here"]


@pytest.mark.parametrize(
    ("line", "level"),
    [
        ("<11>Nov 23 12:00:00 host app: failed", "error"),
        ("<14>Nov 23 12:00:00 host app: hi", "info"),
        ("<12>warning by priority", "warning"),
        ("2024-01-01 12:00:00 WARN slow request", "warning"),
        ("[error] upstream timed out", "error"),
        ('level=error msg="boom"', "error"),
        ("FATAL: the database system is shutting down", "critical"),
        ("kernel: Out of memory: Killed process 42", "error"),
        ("Traceback (most recent call last):", "error"),
        ("DEBUG cache hit", "debug"),
        ("GET /index.html 200", "info"),
        ("an information-free line", "info"),
    ],
)
def test_level_parsing(line: str, level: str) -> None:
    assert parse_level(line) == level
