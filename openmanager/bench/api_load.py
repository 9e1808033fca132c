"""The API load generator: locust (as a library) against a running OpenManager.

Run as its own process (`python -m openmanager.bench.api_load URL DURATION USERS`) because
locust monkey-patches sockets and threads with gevent when imported; `openmanager bench api`
starts it and reads the JSON it prints. Users send requests back to back (no think time),
weighted towards the fleet summary; statistics are reset once every user has started, so
the figures cover the steady state only.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import gevent
from locust import FastHttpUser, constant  # noqa: I001 - gevent patches on import
from locust.env import Environment

RANGE_S = 1800
"""The range query covers the last half hour."""
QUERY = "avg by (role) (node_load1)"


def _params(name: str) -> dict[str, str] | None:
    if name == "instant query":
        return {"query": QUERY}
    if name == "range query":
        now = time.time()
        return {"query": QUERY, "start": f"{now - RANGE_S:.0f}", "end": f"{now:.0f}", "step": "60"}
    return None


ENDPOINTS = {
    "fleet summary": "/api/v1/fleet",
    "instant query": "/api/v1/query",
    "range query": "/api/v1/query_range",
}
WEIGHTS = {"fleet summary": 6, "instant query": 3, "range query": 1}
"""Of ten requests, six fleet summaries, three instant and one range query."""


API_KEY_ENV = "OPENMANAGER_BENCH_API_KEY"
"""The API key to send (as X-API-Key), passed in the environment rather than the command line."""


def user_class(url: str, names: list[str]) -> type[FastHttpUser]:
    """A locust user that sends the named endpoints (by weight) back to back to `url`."""
    key = os.environ.get(API_KEY_ENV, "")
    headers = {"X-API-Key": key} if key else None

    def make(name: str) -> Any:
        def send(user: FastHttpUser) -> None:
            user.client.get(ENDPOINTS[name], params=_params(name), name=name, headers=headers)

        return send

    return type(
        "ApiUser",
        (FastHttpUser,),
        {
            "host": url.rstrip("/"),
            "wait_time": constant(0),
            "network_timeout": 30.0,
            "connection_timeout": 10.0,
            "tasks": {make(n): WEIGHTS[n] for n in names},
        },
    )


def _entry(name: str, e: Any, elapsed_s: float) -> dict[str, Any]:
    """One stats entry as plain figures; locust rounds percentiles above 100 ms to 2 digits,
    so they are capped at the exact maximum."""
    top = float(e.max_response_time or 0)

    def pct(q: float) -> float:
        return min(float(e.get_response_time_percentile(q) or 0), top)

    return {
        "name": name,
        "requests": e.num_requests,
        "failures": e.num_failures,
        "rps": e.num_requests / elapsed_s if elapsed_s > 0 else 0.0,
        "p50_ms": pct(0.50),
        "p90_ms": pct(0.90),
        "p99_ms": pct(0.99),
        "max_ms": top,
    }


def run(url: str, duration_s: float, users: int, only: list[str] | None = None) -> dict[str, Any]:
    """Drive `users` clients for `duration_s` seconds of steady state; per-endpoint figures."""
    env = Environment(user_classes=[user_class(url, only or list(ENDPOINTS))])
    runner = env.create_local_runner()
    started: dict[str, float] = {}

    def steady(user_count: int) -> None:
        env.stats.reset_all()
        started["at"] = time.monotonic()

    env.events.spawning_complete.add_listener(steady)  # type: ignore[no-untyped-call]
    runner.start(users, spawn_rate=max(users / 5, 1))
    deadline = time.monotonic() + duration_s + 30  # spawning takes a few seconds
    while "at" not in started and time.monotonic() < deadline:
        gevent.sleep(0.1)
    gevent.sleep(duration_s)
    elapsed = time.monotonic() - started.get("at", time.monotonic() - duration_s)
    snapshot = [_entry(n, e, elapsed) for (n, _m), e in sorted(env.stats.entries.items())]
    total = _entry("total", env.stats.total, elapsed)
    errors = [
        {"name": e.name, "error": str(e.error), "count": e.occurrences}
        for e in env.stats.errors.values()
    ]
    runner.quit()
    return {"url": url, "users": users, "duration_s": elapsed, "endpoints": snapshot,
            "total": total, "errors": errors[:10]}  # fmt: skip


def main(argv: list[str]) -> int:
    url, duration, users = argv[0], float(argv[1]), int(argv[2])
    only = argv[3].split(",") if len(argv) > 3 and argv[3] else None
    print(json.dumps(run(url, duration, users, only)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
