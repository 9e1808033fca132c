"""Shared resilience for outgoing calls: a tenacity retry policy and a circuit breaker.

Every client of an outside service (notifiers, remote storage, Redis, an LLM endpoint,
PostgreSQL) uses the same two pieces so that they behave alike: bounded retries with
exponential backoff and full jitter, and a breaker that stops calling a dependency that keeps
failing (failing fast instead of piling up timeouts) and lets one trial call through after
`reset_after_s`. The breaker is written here rather than taken from a library because it
must serve sync and asyncio callers alike and export its state as a metric; it is small.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import httpx
import redis.exceptions
from prometheus_client import Counter, Gauge
from tenacity import (
    AsyncRetrying,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from openmanager.errors import Unavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

CIRCUIT_STATE = Gauge(
    "openmanager_circuit_state",
    "State of each circuit breaker: 0 closed (calls pass), 1 open (calls refused), 2 half-open.",
    ["breaker"],
)
CIRCUIT_REFUSED = Counter(
    "openmanager_circuit_refused_total", "Calls refused because a breaker was open.", ["breaker"]
)

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"
_STATE_VALUE = {CLOSED: 0, OPEN: 1, HALF_OPEN: 2}


class CircuitOpen(Unavailable):
    """A call was refused without trying: its dependency failed too often just now."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often to try and how long to wait: attempts, first backoff, cap, timeout per call."""

    attempts: int = 3
    initial_s: float = 0.2
    max_s: float = 5.0
    timeout_s: float = 5.0

    def tenacity_args(self, retry_on: Callable[[BaseException], bool]) -> dict[str, object]:
        """Keyword arguments for tenacity's Retrying/AsyncRetrying (re-raise the last error)."""
        return {
            "stop": stop_after_attempt(self.attempts),
            "wait": wait_random_exponential(multiplier=self.initial_s, max=self.max_s),
            "retry": retry_if_exception(retry_on),
            "reraise": True,
        }


def transient(exc: BaseException) -> bool:
    """The default retry predicate: connection trouble and timeouts, not refusals or bad input."""
    if isinstance(exc, CircuitOpen):
        return False
    return isinstance(
        exc,
        OSError
        | TimeoutError
        | httpx.TransportError
        | redis.exceptions.ConnectionError
        | redis.exceptions.TimeoutError,
    )


class CircuitBreaker:
    """Closed -> open after `failure_threshold` failures in a row; one trial after `reset_after_s`.

    Thread-safe. `call`/`acall` run a function through the breaker; `allow`, `success` and
    `failure` are the same steps for callers that cannot wrap their call in a function.
    """

    def __init__(
        self,
        name: str,
        failure_threshold: int = 5,
        reset_after_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_after_s = reset_after_s
        self._clock = clock
        self._lock = threading.Lock()
        self._state = CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trial_running = False
        self.last_error = ""
        CIRCUIT_STATE.labels(name).set(0)

    @property
    def state(self) -> str:
        """closed, open or half-open (open turns half-open once `reset_after_s` has passed)."""
        with self._lock:
            return self._current()

    def _current(self) -> str:
        if self._state == OPEN and self._clock() - self._opened_at >= self.reset_after_s:
            self._set(HALF_OPEN)
        return self._state

    def _set(self, state: str) -> None:
        if state != self._state:
            log.log(
                logging.WARNING if state == OPEN else logging.INFO,
                "circuit %s: %s -> %s%s",
                self.name,
                self._state,
                state,
                f" ({self.last_error})" if state == OPEN and self.last_error else "",
            )
        self._state = state
        CIRCUIT_STATE.labels(self.name).set(_STATE_VALUE[state])

    def allow(self) -> None:
        """Raise CircuitOpen unless a call may go out now (half-open lets one trial through)."""
        with self._lock:
            state = self._current()
            if state == CLOSED:
                return
            if state == HALF_OPEN and not self._trial_running:
                self._trial_running = True
                return
        CIRCUIT_REFUSED.labels(self.name).inc()
        raise CircuitOpen(f"{self.name} is unavailable (circuit open: {self.last_error})")

    def success(self) -> None:
        """Record a call that worked: the breaker closes."""
        with self._lock:
            self._failures = 0
            self._trial_running = False
            self._set(CLOSED)

    def failure(self, exc: BaseException | str) -> None:
        """Record a call that failed; open after the threshold, or at once after a failed trial."""
        with self._lock:
            self.last_error = str(exc) or type(exc).__name__
            self._failures += 1
            trial = self._trial_running
            self._trial_running = False
            if trial or self._failures >= self.failure_threshold:
                self._opened_at = self._clock()
                self._set(OPEN)

    def call(self, fn: Callable[[], T]) -> T:
        """Run `fn` through the breaker (sync)."""
        self.allow()
        try:
            result = fn()
        except Exception as exc:
            self.failure(exc)
            raise
        self.success()
        return result

    async def acall(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Run the coroutine function `fn` through the breaker (asyncio)."""
        self.allow()
        try:
            result = await fn()
        except Exception as exc:
            self.failure(exc)
            raise
        self.success()
        return result


def guarded_call(
    breaker: CircuitBreaker,
    fn: Callable[[], T],
    policy: RetryPolicy = RetryPolicy(),
    retry_on: Callable[[BaseException], bool] = transient,
) -> T:
    """`fn` with retries (backoff + jitter) inside the breaker: one breaker failure per give-up."""
    breaker.allow()
    try:
        for attempt in Retrying(**policy.tenacity_args(retry_on)):  # type: ignore[arg-type]
            with attempt:
                result = fn()
    except Exception as exc:
        breaker.failure(exc)
        raise
    breaker.success()
    return result


async def guarded_acall(
    breaker: CircuitBreaker,
    fn: Callable[[], Awaitable[T]],
    policy: RetryPolicy = RetryPolicy(),
    retry_on: Callable[[BaseException], bool] = transient,
) -> T:
    """The asyncio form of `guarded_call`."""
    breaker.allow()
    try:
        async for attempt in AsyncRetrying(**policy.tenacity_args(retry_on)):  # type: ignore[arg-type]
            with attempt:
                result = await fn()
    except Exception as exc:
        breaker.failure(exc)
        raise
    breaker.success()
    return result
