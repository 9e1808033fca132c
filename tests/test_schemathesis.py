"""Property-based API testing with schemathesis against the app's own OpenAPI spec.

The app runs under uvicorn on a free port; every documented operation gets generated requests
(valid and invalid). No response may be a 5xx and every documented response must match its
schema. The default run keeps the number of examples small; the slow run digs deeper.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import schemathesis
import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from hypothesis import HealthCheck, given, settings
from pydantic import BaseModel
from schemathesis.checks import not_a_server_error, response_schema_conformance

from openmanager.api.app import create_app
from openmanager.config import load_settings
from openmanager.services.platform import Platform
from tests.helpers import free_port

STREAMS = r"^/api/v1/stream/sse$"
"""Endless Server-Sent Events: a request would never complete (covered by the stream tests)."""

CHECKS = [not_a_server_error, response_schema_conformance]

REQUEST_TIMEOUT_S = 90
"""Generous: generated forecast ranges can be long and this machine is shared."""


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run `app` under uvicorn on a free port until the block ends."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def base_url(tmp_path: Path) -> Iterator[str]:
    """A real server over a fresh data dir (simulated fleet with 10 minutes of history)."""
    conf = load_settings(
        None,
        {
            "profile": "test",
            "storage": {"path": str(tmp_path / "data")},
            "simulator": {"backfill": "10m"},
        },
    )
    with serve(create_app(Platform(conf))) as url:
        yield url


def _fuzz(base_url: str, examples: int, min_operations: int = 40) -> None:
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json").exclude(path_regex=STREAMS)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @settings(
            max_examples=examples,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=base_url, checks=CHECKS, timeout=REQUEST_TIMEOUT_S)

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # every operation's failure is collected
            parts = getattr(exc, "exceptions", None) or [exc]
            failures.append(
                f"{operation.label}: "
                + "\n".join(f"{type(e).__name__}: {str(e)[:1500]}" for e in parts)
            )
    assert operations >= min_operations
    assert not failures, "\n\n".join(failures)


class Item(BaseModel):
    name: str


def test_the_fuzzer_catches_server_errors_and_spec_violations() -> None:
    bad = FastAPI()

    @bad.get("/boom")
    def boom(n: int = 0) -> dict[str, int]:
        return {"inverse": 1 // n}  # 500 on n=0

    @bad.get("/item", response_model=None, responses={200: {"model": Item}})
    def item() -> JSONResponse:
        return JSONResponse({"name": 42})  # documented as Item, answers otherwise

    with serve(bad) as url, pytest.raises(AssertionError) as err:
        _fuzz(url, examples=10, min_operations=2)
    assert "/boom" in str(err.value) and "/item" in str(err.value)


def test_api_conforms_to_its_spec(base_url: str) -> None:
    _fuzz(base_url, examples=4)


@pytest.mark.slow
def test_api_conforms_to_its_spec_deeply(base_url: str) -> None:
    _fuzz(base_url, examples=60)
