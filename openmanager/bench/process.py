"""Wait for a started server process to answer its readiness URL, and stop it by PID.

Shared by the benchmarks and the tests that run real servers, so every start/stop behaves alike.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx


def serve_command(port: int, data_dir: Path, *args: str) -> list[str]:
    """`openmanager serve` on `port` over `data_dir`, run by this interpreter, plus `args`."""
    return [
        sys.executable, "-m", "openmanager.cli.main", "serve",
        "--port", str(port), "--data", str(data_dir), *args,
    ]  # fmt: skip


def wait_ready(
    proc: subprocess.Popen[Any],
    url: str,
    *,
    name: str,
    timeout_s: float,
    interval_s: float = 0.2,
    probe_timeout_s: float = 1.0,
    exit_detail: Callable[[], str] = lambda: "",
) -> None:
    """Poll `url` until it answers 200; RuntimeError if `proc` exits first, TimeoutError after `timeout_s`.

    `exit_detail` adds to the exit error (a log tail, the process's output).
    """
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited ({proc.returncode}){exit_detail()}")
        try:
            if httpx.get(url, timeout=probe_timeout_s).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} not ready after {timeout_s}s")
        time.sleep(interval_s)


def stop_process(proc: subprocess.Popen[Any], timeout_s: float) -> None:
    """SIGTERM a still-running `proc`, wait up to `timeout_s`, then SIGKILL; always reap it."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
