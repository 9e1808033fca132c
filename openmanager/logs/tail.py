"""Tail log files on a real host: follow appends, rotation (rename + new file) and truncation.

`FileTailer.poll()` returns the complete lines written since the last poll as LogRecords,
with the level parsed from each line. A rotated file is read to its end before the new one.
"""

from __future__ import annotations

import glob
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from openmanager.logs.record import LogRecord, parse_level

MAX_READ = 4 << 20
"""Bytes read from one file per poll (a burst is spread over several polls)."""
MAX_LINE = 64 << 10
"""Longer lines are cut to this many bytes."""


@dataclass
class _Followed:
    path: Path
    handle: BinaryIO
    inode: int
    partial: bytes = field(default=b"")


class FileTailer:
    """Follows every file matching `patterns`; new files matching later are picked up too.

    Files present at the first poll are read from their end (only new lines), unless
    `from_start`; files that appear later are read from the beginning.
    """

    def __init__(
        self,
        patterns: Sequence[str],
        server: str,
        clock: Callable[[], float] = time.time,
        from_start: bool = False,
    ) -> None:
        self.patterns, self.server, self.clock = list(patterns), server, clock
        self._files: dict[str, _Followed] = {}
        self._first = not from_start

    def _open(self, path: Path, at_end: bool) -> _Followed | None:
        try:
            handle = path.open("rb")
        except OSError:
            return None
        if at_end:
            handle.seek(0, os.SEEK_END)
        return _Followed(path, handle, os.fstat(handle.fileno()).st_ino)

    def _read(self, f: _Followed, out: list[LogRecord], now_ms: int) -> None:
        data = f.partial + f.handle.read(MAX_READ)
        *lines, f.partial = data.split(b"\n")
        source = f.path.name
        for raw in lines:
            text = raw[:MAX_LINE].decode("utf-8", "replace").rstrip("\r")
            if text.strip():
                out.append(LogRecord(now_ms, self.server, parse_level(text), source, text))

    def poll(self) -> list[LogRecord]:
        """Lines completed since the last poll, oldest first per file."""
        now_ms = int(self.clock() * 1000)
        out: list[LogRecord] = []
        seen = set()
        for pattern in self.patterns:
            for name in sorted(glob.glob(pattern)):
                seen.add(name)
                f = self._files.get(name)
                if f is None:
                    opened = self._open(Path(name), at_end=self._first)
                    if opened is not None:
                        self._files[name] = f = opened
                if f is None:
                    continue
                self._read(f, out, now_ms)
                self._check_rotation(name, f, out, now_ms)
        for name in [n for n in self._files if n not in seen]:  # removed and not recreated
            f = self._files.pop(name)
            self._read(f, out, now_ms)
            f.handle.close()
        self._first = False
        return out

    def _check_rotation(self, name: str, f: _Followed, out: list[LogRecord], now_ms: int) -> None:
        try:
            st = os.stat(name)
        except OSError:
            return
        if st.st_ino != f.inode:  # renamed away and a new file created: finish old, start new
            self._read(f, out, now_ms)
            f.handle.close()
            fresh = self._open(Path(name), at_end=False)
            if fresh is None:
                del self._files[name]
                return
            self._files[name] = fresh
            self._read(fresh, out, now_ms)
        elif st.st_size < f.handle.tell():  # truncated in place (copytruncate)
            f.handle.seek(0)
            f.partial = b""
            self._read(f, out, now_ms)

    def close(self) -> None:
        """Close every followed file."""
        for f in self._files.values():
            f.handle.close()
        self._files.clear()
