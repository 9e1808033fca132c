"""The API load test: start (or use) an instance, run the locust generator, grade the figures."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openmanager.bench.api_grade import EndpointResult
from openmanager.bench.process import serve_command, stop_process, wait_ready
from openmanager.errors import InvalidInput, Unavailable

SHORT_NAMES = {"fleet": "fleet summary", "instant": "instant query", "range": "range query"}


@dataclass(frozen=True)
class ApiBench:
    """One load test's figures: per endpoint and in total."""

    url: str
    users: int
    duration_s: float
    endpoints: list[EndpointResult]
    total: EndpointResult
    errors: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "users": self.users,
            "duration_s": round(self.duration_s, 2),
            "endpoints": [e.to_json() for e in self.endpoints],
            "total": self.total.to_json(),
            "errors": self.errors,
        }


def endpoint_names(short: list[str]) -> list[str]:
    """`fleet,instant,range` as the generator's endpoint names; InvalidInput for unknown ones."""
    unknown = sorted(set(short) - set(SHORT_NAMES))
    if unknown:
        raise InvalidInput(f"unknown endpoint(s) {unknown}; choose from {sorted(SHORT_NAMES)}")
    return [SHORT_NAMES[s] for s in short]


@contextmanager
def started_instance(
    backfill: str, say: Callable[[str], None], timeout_s: float = 300.0
) -> Iterator[str]:
    """`openmanager serve` with the simulated fleet on a free port in a temp dir; yields its URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    with tempfile.TemporaryDirectory(prefix="openmanager-bench-api-") as tmp:
        env = {**os.environ, "OPENMANAGER_SIMULATOR__BACKFILL": backfill,
               "OPENMANAGER_SERVER__LOG_LEVEL": "warning"}  # fmt: skip
        log = open(Path(tmp) / "serve.log", "w+")  # noqa: SIM115 - closed below
        proc = subprocess.Popen(serve_command(port, Path(tmp) / "data"), env=env, stdout=log,
                                stderr=subprocess.STDOUT)  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        say(f"started openmanager serve on {url} (backfilling {backfill} of history)")
        try:
            wait_ready(proc, f"{url}/-/ready", name="openmanager serve", timeout_s=timeout_s,
                       exit_detail=lambda: ":\n" + Path(log.name).read_text()[-2000:])  # fmt: skip
            yield url
        finally:
            stop_process(proc, timeout_s=20)
            log.close()


def run_load(
    url: str, duration_s: float, users: int, names: list[str], api_key: str = ""
) -> ApiBench:
    """Run the locust generator in its own process (gevent patches everything it imports)."""
    if importlib.util.find_spec("locust") is None:
        raise Unavailable("the load generator needs locust: pip install 'openmanager[load]'")
    cmd = [sys.executable, "-m", "openmanager.bench.api_load", url, str(duration_s), str(users),
           ",".join(names)]  # fmt: skip
    env = {**os.environ, "OPENMANAGER_BENCH_API_KEY": api_key}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=duration_s + 300, env=env)
    if done.returncode != 0 or not done.stdout.strip():
        raise Unavailable(f"the load generator failed ({done.returncode}): {done.stderr[-2000:]}")
    raw = json.loads(done.stdout.strip().splitlines()[-1])
    return ApiBench(
        raw["url"],
        raw["users"],
        raw["duration_s"],
        [EndpointResult(**e) for e in raw["endpoints"]],
        EndpointResult(**raw["total"]),
        raw["errors"],
    )
