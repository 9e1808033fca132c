"""Test helpers: real-dependency checks that skip locally and fail under CI, free ports."""

from __future__ import annotations

import os
import shutil
import socket

import pytest

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
