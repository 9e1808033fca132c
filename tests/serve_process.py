"""Run `openmanager serve` as a real process on a free port and wait until it is ready."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.helpers import free_port


@contextmanager
def serve_process(
    data_dir: Path, *args: str, timeout_s: float = 60.0
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """Yield (base URL, process) once `/-/ready` answers 200; SIGTERM and reap on exit."""
    port = free_port()
    env = {**os.environ, "OPENMANAGER_PROFILE": "test"}
    cmd = [
        sys.executable,
        "-m",
        "openmanager.cli.main",
        "serve",
        "--port",
        str(port),
        "--data",
        str(data_dir),
        *args,
    ]
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                out = proc.stdout.read() if proc.stdout else ""
                raise RuntimeError(f"openmanager serve exited early ({proc.returncode}):\n{out}")
            try:
                if httpx.get(f"{url}/-/ready", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"openmanager serve not ready after {timeout_s}s")
            time.sleep(0.1)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
