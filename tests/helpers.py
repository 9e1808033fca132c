"""Test helpers: real-dependency checks that skip locally and fail under CI, free ports."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from openmanager.services.platform import Platform

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(condition: bool, reason: str) -> None:
    """Skip when a real dependency is missing, except under CI, where it is a failure."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required under CI: {reason}")
    pytest.skip(reason)


def require_binary(name: str) -> str:
    """Path of an executable the test needs (e.g. promtool), or skip/fail with the reason."""
    path = shutil.which(name)
    require(path is not None, f"{name} is not installed (apt-get install the Debian package)")
    assert path is not None
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_app(app: Any, timeout_s: float = 20.0) -> Iterator[str]:
    """Run an ASGI app under uvicorn in a thread on a free port; yield its base URL, then stop it."""
    import uvicorn  # only the tests that serve an app pay for the import

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    if not server.started:
        raise RuntimeError(f"uvicorn did not start on port {port} within {timeout_s}s")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=timeout_s)


def quiet_platform(data_dir: Path, clock: Callable[[], float] | None = None) -> Platform:
    """A test-profile Platform on `data_dir` with the simulator off (optionally on `clock`)."""
    from openmanager.config import load_settings
    from openmanager.services.platform import Platform as Running

    settings = load_settings(
        None,
        {"profile": "test", "storage": {"path": str(data_dir)}, "simulator": {"enabled": False}},
    )
    return Running(settings) if clock is None else Running(settings, clock=clock)
