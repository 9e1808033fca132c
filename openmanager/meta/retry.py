"""Metadata-store calls that survive a database restart: retried on reconnect, or queued.

`call` runs a unit of work (its own transaction) through the shared breaker and retry policy
and raises Unavailable (503) when the store stays away, so a caller is never told "stored"
for something that is not. `write` is for writes whose result nobody waits for (alert and
notification history, silences with ids made here): tried once inline; while the store is
unreachable it and every later write are queued in order and a background thread applies
them, with jittered backoff, once the store answers again. Pending writes are kept in memory
only: a process that dies while the store is away loses them (`pending` says how many).
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from tenacity import Retrying, wait_random_exponential

from openmanager.errors import Unavailable
from openmanager.resilience import CircuitBreaker, CircuitOpen, RetryPolicy

log = logging.getLogger(__name__)

T = TypeVar("T")

Health = Callable[[bool, str], None]
"""Told (ok, error) after each call that reached or failed to reach the store."""

DEFAULT_POLICY = RetryPolicy(attempts=6, initial_s=0.2, max_s=2.0)
"""About five seconds of retries: enough to ride out a restart, short enough for a request."""


_SCHEMA_ERRORS = ("no such table", "no such column", "has no column", "syntax error")
"""SQLite raises these as OperationalError too, but retrying cannot fix them."""


def disconnected(exc: BaseException) -> bool:
    """The store did not answer (refused, reset, restarted): worth retrying, unlike bad SQL."""
    if isinstance(exc, OperationalError | InterfaceError):
        return not any(s in str(exc.orig) for s in _SCHEMA_ERRORS)
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


class MetaRetry:
    """Retries, a breaker named `metadata` and an ordered queue of writes made while it was away."""

    def __init__(self, policy: RetryPolicy = DEFAULT_POLICY, max_wait_s: float = 5.0) -> None:
        self.policy = policy
        self.max_wait_s = max_wait_s
        self.breaker = CircuitBreaker("metadata", failure_threshold=3, reset_after_s=1.0)
        self.on_health: Health = lambda ok, error: None
        self._pending: collections.deque[Callable[[], object]] = collections.deque()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._flusher: threading.Thread | None = None
        self._closed = False

    @property
    def pending(self) -> int:
        """Writes queued while the store was unreachable, not yet applied."""
        with self._lock:
            return len(self._pending)

    def _report(self, ok: bool, error: BaseException | str = "") -> None:
        try:
            self.on_health(ok, "" if ok else (str(error) or type(error).__name__))
        except Exception:  # reporting must never break a write
            log.exception("metadata store: health report failed")

    def call(self, fn: Callable[[], T]) -> T:
        """Run `fn`, retried while the store is unreachable; Unavailable when it stays away."""
        return self._run(fn, self.policy.attempts)

    def once(self, fn: Callable[[], T]) -> T:
        """Run `fn` once (hot paths that have a fallback); Unavailable when the store is away."""
        return self._run(fn, 1)

    def _run(self, fn: Callable[[], T], attempts: int) -> T:
        """Through the breaker; only disconnections count as its failures (not bad input)."""
        if self._closed:
            raise Unavailable("metadata store is closed")
        try:
            self.breaker.allow()
        except CircuitOpen as exc:
            raise Unavailable(str(exc)) from None
        policy = replace(self.policy, attempts=attempts)
        try:
            for attempt in Retrying(**policy.tenacity_args(disconnected)):  # type: ignore[arg-type]
                with attempt:
                    result = fn()
        except Exception as exc:
            if not disconnected(exc):
                self.breaker.success()  # the store answered; the request was at fault
                raise
            self.breaker.failure(_short(exc))
            self._report(False, _short(exc))
            raise Unavailable(f"metadata store unreachable: {_short(exc)}") from None
        self.breaker.success()
        self._report(True)
        return result

    def kick(self) -> None:
        """Retry queued writes now instead of after the backoff (the store answered again)."""
        with self._lock:
            self._wake.notify_all()

    def write(self, fn: Callable[[], object]) -> None:
        """Apply `fn` now if the store answers, else queue it (after any queued before it).

        After `close` (shutdown) a late write is dropped with a warning: the store is gone.
        """
        with self._lock:
            if self._closed:
                log.warning("metadata store closed: dropping a late write")
                return
            if not self._pending and self.breaker.state == "closed":
                try:
                    fn()
                except Exception as exc:
                    if not disconnected(exc):
                        raise
                    self.breaker.failure(_short(exc))
                    self._report(False, _short(exc))
                else:
                    return
            self._pending.append(fn)
            if len(self._pending) == 1:
                log.warning("metadata store unreachable: queueing writes until it is back")
            self._start_flusher()
            self._wake.notify()

    def _start_flusher(self) -> None:
        if self._flusher is None or not self._flusher.is_alive():
            self._flusher = threading.Thread(
                target=self._flush_loop, name="meta-flush", daemon=True
            )
            self._flusher.start()

    def _flush_loop(self) -> None:
        wait = wait_random_exponential(multiplier=self.policy.initial_s, max=self.max_wait_s)
        failures = 0
        while True:
            with self._lock:
                if not self._pending:
                    return
                fn = self._pending[0]
            try:
                fn()
            except Exception as exc:
                if disconnected(exc):
                    failures += 1
                    self.breaker.failure(_short(exc))
                    self._report(False, _short(exc))
                    with self._lock:
                        if self._closed:
                            return
                        self._wake.wait(wait(_Attempt(failures)))  # type: ignore[arg-type]
                    continue
                log.error("metadata store: dropping a queued write that fails: %s", exc)
            else:
                if failures:
                    log.warning("metadata store is back: applying queued writes")
                failures = 0
                self.breaker.success()
                self._report(True)
            with self._lock:
                self._pending.popleft()

    def drain(self, timeout_s: float = 10.0) -> bool:
        """Wait for queued writes to be applied (shutdown); False when some are left."""
        deadline = time.monotonic() + timeout_s
        while self.pending:
            if time.monotonic() > deadline:
                log.error("metadata store: %d queued writes not applied at shutdown", self.pending)
                return False
            self.kick()
            time.sleep(0.05)
        return True

    def close(self) -> None:
        """Stop the flusher (after `drain`)."""
        with self._lock:
            self._closed = True
            self._wake.notify_all()


class _Attempt:
    """The one field of tenacity's RetryCallState that its wait strategies read."""

    def __init__(self, number: int) -> None:
        self.attempt_number = number


def _short(exc: BaseException) -> str:
    """The driver's first line, not SQLAlchemy's multi-line wrapper with the SQL."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
