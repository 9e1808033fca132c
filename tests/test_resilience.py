"""The shared retry policy and circuit breaker (openmanager.resilience)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from openmanager.resilience import (
    CircuitBreaker,
    CircuitOpen,
    RetryPolicy,
    guarded_acall,
    guarded_call,
    transient,
)

FAST = RetryPolicy(attempts=3, initial_s=0.001, max_s=0.002)


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def failing(errors: list[BaseException]) -> object:
    """A callable raising the given errors in turn, then returning 'ok'; counts calls."""
    calls = []

    def fn() -> str:
        calls.append(1)
        if errors:
            raise errors.pop(0)
        return "ok"

    fn.calls = calls  # type: ignore[attr-defined]
    return fn


def test_transient_errors_are_retried_with_backoff_until_success() -> None:
    breaker = CircuitBreaker("t1")
    fn = failing([httpx.ConnectError("refused"), TimeoutError("slow")])
    assert guarded_call(breaker, fn, FAST) == "ok"  # type: ignore[arg-type]
    assert len(fn.calls) == 3  # type: ignore[attr-defined]
    assert breaker.state == "closed"


def test_bad_input_is_not_retried() -> None:
    breaker = CircuitBreaker("t2")
    fn = failing([ValueError("bad request")])
    with pytest.raises(ValueError):
        guarded_call(breaker, fn, FAST)  # type: ignore[arg-type]
    assert len(fn.calls) == 1  # type: ignore[attr-defined]
    assert not transient(ValueError()) and transient(ConnectionRefusedError())


def test_breaker_opens_after_threshold_fails_fast_then_half_opens() -> None:
    clock = Clock()
    breaker = CircuitBreaker("t3", failure_threshold=2, reset_after_s=30, clock=clock)
    fn = failing([OSError("down")] * 6)
    for _ in range(2):
        with pytest.raises(OSError):
            guarded_call(breaker, fn, FAST)  # type: ignore[arg-type]
    assert breaker.state == "open"
    calls = len(fn.calls)  # type: ignore[attr-defined]
    with pytest.raises(CircuitOpen, match="circuit open: down"):
        guarded_call(breaker, fn, FAST)  # type: ignore[arg-type]
    assert len(fn.calls) == calls, "an open breaker does not call the dependency"  # type: ignore[attr-defined]
    clock.t += 31
    assert breaker.state == "half-open"
    breaker.allow()  # the one trial call
    with pytest.raises(CircuitOpen):
        breaker.allow()  # a second caller is refused while the trial runs
    breaker.failure("still down")
    assert breaker.state == "open", "a failed trial re-opens at once"
    clock.t += 31
    assert breaker.call(lambda: 42) == 42
    assert breaker.state == "closed"


def test_async_guarded_call_counts_one_failure_per_give_up() -> None:
    breaker = CircuitBreaker("t4", failure_threshold=2)
    attempts = 0

    async def down() -> None:
        nonlocal attempts
        attempts += 1
        raise ConnectionError("no route")

    with pytest.raises(ConnectionError):
        asyncio.run(guarded_acall(breaker, down, FAST))
    assert attempts == 3
    assert breaker.state == "closed", "three attempts of one call are one breaker failure"
    with pytest.raises(ConnectionError):
        asyncio.run(guarded_acall(breaker, down, FAST))
    assert breaker.state == "open"


def test_remote_storage_fails_fast_once_its_breaker_opens() -> None:
    from openmanager.config.settings import StorageSettings
    from openmanager.errors import Unavailable
    from openmanager.tsdb.remote import RemoteStorage

    calls = 0

    def down(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(503, text="overloaded")

    store = RemoteStorage(
        StorageSettings(backend="remote", remote_url="http://store.invalid"),
        transport=httpx.MockTransport(down),
        attempts=2,
        retry_wait_s=0.001,
        flavor="prometheus",
    )
    for _ in range(3):
        with pytest.raises(Unavailable, match="after 2 attempts"):
            store.label_names()
    assert store.breaker.state == "open" and calls == 6
    with pytest.raises(CircuitOpen, match="remote-storage is unavailable"):
        store.label_names()
    assert calls == 6, "an open breaker sends nothing"
