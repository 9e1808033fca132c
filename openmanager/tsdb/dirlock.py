"""An exclusive process lock on a data directory, so two processes never open the same store."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from openmanager.errors import Unavailable

LOCK_NAME = "LOCK"


class DirLock:
    """Holds `flock(LOCK_EX)` on `<dir>/LOCK` until released (or the process dies)."""

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / LOCK_NAME
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise Unavailable(
                f"storage directory {directory} is in use by another process (pid {holder})"
            ) from exc
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd: int | None = fd

    def release(self) -> None:
        """Give the directory up (idempotent)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
