"""Run `openmanager serve` as a real process on a free port and wait until it is ready."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from openmanager.bench.process import serve_command, stop_process, wait_ready
from tests.helpers import free_port


@contextmanager
def serve_process(
    data_dir: Path, *args: str, timeout_s: float = 120.0, env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """Yield (base URL, process) once `/-/ready` answers 200; SIGTERM and reap on exit.

    `env` adds environment variables (e.g. `OPENMANAGER_SERVER__LOG_FORMAT`).
    """
    port = free_port()
    env = {**os.environ, "OPENMANAGER_PROFILE": "test", **(env or {})}
    proc = subprocess.Popen(
        serve_command(port, data_dir, *args),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(
            proc, f"{url}/-/ready", name="openmanager serve", timeout_s=timeout_s,
            interval_s=0.1, exit_detail=lambda: ":\n" + (proc.stdout.read() if proc.stdout else ""),
        )  # fmt: skip
        yield url, proc
    finally:
        stop_process(proc, timeout_s=20)
