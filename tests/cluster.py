"""Fixtures for several instances: real Redis and running instances (Platform + app).

Redis is the shared server at 127.0.0.1:6379 with a unique key prefix per test, or a private
`redis-server` on a free port that a test may stop and restart. A missing server or binary
skips locally and fails under CI (`tests.helpers.require`). Registered in tests/conftest.py.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from openmanager.api.app import create_app
from openmanager.bench.process import stop_process
from openmanager.config import load_settings
from openmanager.services.platform import Platform
from tests.helpers import free_port, require, require_binary

SHARED_URL = "redis://127.0.0.1:6379/0"


def _answers(url: str) -> bool:
    try:
        with redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1) as client:
            return bool(client.ping())
    except (redis.RedisError, OSError):
        return False


@pytest.fixture
def shared_redis() -> Iterator[tuple[str, str]]:
    """(url, key prefix) on the shared Redis; the prefix's keys are deleted afterwards."""
    require(
        _answers(SHARED_URL),
        f"Redis does not answer at {SHARED_URL} (apt-get install redis-server)",
    )
    prefix = f"omtest-{uuid.uuid4().hex[:10]}"
    yield SHARED_URL, prefix
    with redis.Redis.from_url(SHARED_URL) as client:
        keys = list(client.scan_iter(f"{prefix}:*"))
        if keys:
            client.delete(*keys)


class PrivateRedis:
    """A `redis-server` of our own on a fixed free port, without persistence; stop/start at will."""

    def __init__(self, workdir: Path) -> None:
        self.binary = require_binary("redis-server")
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 10.0) -> None:
        """Start the server and wait until it answers PING."""
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + timeout_s
        while not _answers(self.url):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on port {self.port} did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and wait for it to exit."""
        if self.proc is not None:
            stop_process(self.proc, timeout_s=5)
            self.proc = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A running private Redis, stopped at the end of the test."""
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


Start = Callable[..., TestClient]


def wait_until(check: Callable[[], Any], timeout_s: float = 15.0, what: str = "condition") -> Any:
    """Poll `check` until it returns something truthy; fail with `what` after the timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout_s}s waiting for {what}")


@pytest.fixture
def start_instance(tmp_path: Path) -> Iterator[Start]:
    """Start instances (app + platform) with settings overrides; all stop at the end."""
    with ExitStack() as stack:
        count = 0

        def make(**overrides: Any) -> TestClient:
            nonlocal count
            count += 1
            base: dict[str, Any] = {
                "profile": "test",
                "storage": {"path": str(tmp_path / f"instance{count}")},
                "simulator": {"enabled": False},
            }
            for key, value in overrides.items():
                base[key] = {**base.get(key, {}), **value}
            client = TestClient(create_app(Platform(load_settings(None, base))))
            stack.enter_context(client)
            return client

        yield make


def platform(client: TestClient) -> Platform:
    p = client.app.state.platform  # type: ignore[attr-defined]
    assert isinstance(p, Platform)
    return p
