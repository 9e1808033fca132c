"""Fixtures for notify tests: a real HTTP endpoint that records what it receives, a clock."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from openmanager.rules.outbound import PostableAlert


def always_on_rules(**labels: str) -> str:
    """A rule file whose one alert, AlwaysOn (severity page plus `labels`), fires every 1 s."""
    extra = "".join(f"\n          {k}: {v}" for k, v in labels.items())
    return (
        "groups:\n  - name: demo\n    interval: 1s\n    rules:\n      - alert: AlwaysOn\n"
        f"        expr: vector(1)\n        labels:\n          severity: page{extra}\n"
    )


class Sink:
    """A local HTTP server collecting JSON bodies; `fail_next` makes it answer 500.

    While `hanging` is set it takes each request and never answers (the connection is dropped
    once `hanging` is cleared or the sink closes); `hung` counts those requests.
    """

    def __init__(self) -> None:
        self.bodies: list[Any] = []
        self.paths: list[str] = []
        self.fail_next = 0
        self.always_fail = False
        self.fail_status = 500
        self.hanging = False
        self.hung = 0
        self.closed = threading.Event()
        self.lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if sink.hanging:
                    with sink.lock:
                        sink.hung += 1
                    while sink.hanging and not sink.closed.wait(0.05):
                        pass
                    self.close_connection = True
                    return
                with sink.lock:
                    failing = sink.always_fail or sink.fail_next > 0
                    if sink.fail_next > 0:
                        sink.fail_next -= 1
                    if not failing:
                        sink.bodies.append(json.loads(raw))
                        sink.paths.append(self.path)
                self.send_response(sink.fail_status if failing else 200)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.closed.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sink() -> Iterator[Sink]:
    s = Sink()
    yield s
    s.close()


@pytest.fixture
def sink2() -> Iterator[Sink]:
    s = Sink()
    yield s
    s.close()


class Clock:
    """A settable clock (seconds since the epoch)."""

    def __init__(self, t: float = 1_790_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> float:
        self.t += seconds
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


def alert(
    clock: Clock,
    *,
    resolved: bool = False,
    starts: float | None = None,
    annotations: dict[str, str] | None = None,
    **labels: str,
) -> PostableAlert:
    """A postable alert as Prometheus sends it: firing ends 4 minutes ahead, resolved ends now."""
    now = clock()
    start = now if starts is None else starts
    end = now if resolved else now + 240
    return PostableAlert(
        labels=labels,
        annotations=annotations or {},
        starts_at=datetime.fromtimestamp(start, UTC),
        ends_at=datetime.fromtimestamp(end, UTC),
        generator_url="http://prometheus/graph",
    )
