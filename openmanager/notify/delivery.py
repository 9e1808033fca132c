"""Delivery: one worker per receiver integration, retries with backoff and jitter, a breaker.

A slow, hung or failing integration only delays its own queue (each call has a timeout); every
outcome (sent, or failed after all retries or refused by its open circuit breaker) is reported
to the caller, so nothing is dropped silently, and the integration's health goes to
`Dependencies` (/-/ready) and the `openmanager_circuit_state` metric.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from prometheus_client import Counter, Gauge

from openmanager.notify.receivers.base import Integration, Message
from openmanager.observability.dependencies import Dependencies
from openmanager.resilience import CircuitBreaker, RetryPolicy, guarded_call

log = logging.getLogger(__name__)

NOTIFICATIONS = Counter(
    "openmanager_notifications_total",
    "Notifications delivered or given up, by receiver and integration.",
    ["receiver", "integration", "outcome"],
)
ATTEMPTS = Counter(
    "openmanager_notification_attempts_total",
    "Delivery attempts, including retries.",
    ["receiver", "integration"],
)
FAILING = Gauge(
    "openmanager_notification_receiver_failing",
    "1 while a receiver integration's last notification failed after all retries.",
    ["receiver", "integration"],
)

Outcome = Callable[[bool, int, str], None]
"""Called after delivery: (delivered, attempts, error)."""


@dataclass
class IntegrationStatus:
    """What a receiver integration has done so far."""

    receiver: str
    integration: str
    index: int
    sent: int = 0
    failed: int = 0
    attempts: int = 0
    consecutive_failures: int = 0
    last_error: str = ""
    last_attempt_at: float | None = None
    last_success_at: float | None = None
    queued: int = 0

    @property
    def failing(self) -> bool:
        return self.consecutive_failures > 0

    def to_json(self) -> dict[str, Any]:
        return {**vars(self), "failing": self.failing}


@dataclass
class _Worker:
    integration: Integration
    status: IntegrationStatus
    breaker: CircuitBreaker
    jobs: queue.Queue[tuple[Message, Outcome] | None] = field(default_factory=queue.Queue)
    thread: threading.Thread | None = None

    @property
    def name(self) -> str:
        """The breaker's and the dependency's name: `notify-<receiver>-<index>`."""
        return self.breaker.name


def transient(exc: BaseException) -> bool:
    """Worth retrying: anything but an HTTP 4xx answer (other than 408 and 429)."""
    if isinstance(exc, httpx.HTTPStatusError):
        code = exc.response.status_code
        return not (400 <= code < 500) or code in (408, 429)
    return True


class Delivery:
    """Runs each integration's notifications in order on its own thread, through its breaker."""

    def __init__(
        self,
        policy: RetryPolicy,
        clock: Callable[[], float] = time.time,
        *,
        dependencies: Dependencies | None = None,
        breaker_threshold: int = 5,
        breaker_reset_s: float = 30.0,
    ) -> None:
        self.policy = policy
        self.clock = clock
        self.dependencies = dependencies if dependencies is not None else Dependencies(clock)
        self.breaker_threshold = breaker_threshold
        self.breaker_reset_s = breaker_reset_s
        self._workers: dict[tuple[str, int], _Worker] = {}
        self._lock = threading.Lock()

    def register(self, receiver: str, index: int, integration: Integration) -> None:
        """Add an integration (index = its position among the receiver's integrations)."""
        status = IntegrationStatus(receiver, integration.kind, index)
        name = f"notify-{receiver}-{index}"
        breaker = CircuitBreaker(name, self.breaker_threshold, self.breaker_reset_s)
        worker = _Worker(integration, status, breaker)
        self.dependencies.register(name, integration.kind)
        worker.thread = threading.Thread(
            target=self._run, args=(worker,), name=f"notify-{receiver}-{index}", daemon=True
        )
        with self._lock:
            self._workers[(receiver, index)] = worker
        worker.thread.start()

    def submit(self, receiver: str, index: int, message: Message, outcome: Outcome) -> None:
        """Queue a notification; `outcome` is called from the worker thread when done."""
        worker = self._workers[(receiver, index)]
        worker.status.queued += 1
        worker.jobs.put((message, outcome))

    def status(self) -> list[IntegrationStatus]:
        """Every integration's counters, by receiver."""
        with self._lock:
            return sorted(
                (w.status for w in self._workers.values()), key=lambda s: (s.receiver, s.index)
            )

    def drain(self, timeout_s: float = 30.0) -> bool:
        """Wait until every queue is empty and idle (tests, shutdown); False on timeout."""
        deadline = time.monotonic() + timeout_s
        for w in list(self._workers.values()):
            while w.jobs.unfinished_tasks:
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.01)
        return True

    def close(self) -> None:
        """Stop the workers after their queued work."""
        for w in self._workers.values():
            w.jobs.put(None)
        for w in self._workers.values():
            if w.thread is not None:
                w.thread.join(timeout=10)

    def _run(self, worker: _Worker) -> None:
        while True:
            job = worker.jobs.get()
            try:
                if job is None:
                    return
                self._deliver(worker, *job)
            finally:
                worker.jobs.task_done()

    def _deliver(self, worker: _Worker, message: Message, outcome: Outcome) -> None:
        st = worker.status
        attempts = 0
        error = ""

        def attempt() -> None:
            nonlocal attempts
            attempts += 1
            st.attempts += 1
            st.last_attempt_at = self.clock()
            ATTEMPTS.labels(st.receiver, st.integration).inc()
            worker.integration.notify(message)

        try:
            guarded_call(worker.breaker, attempt, self.policy, transient)
            ok = True
        except Exception as exc:  # any failure of the integration is reported, never raised
            ok = False
            error = f"{type(exc).__name__}: {exc}"
        st.queued -= 1
        if ok:
            st.sent += 1
            st.consecutive_failures = 0
            st.last_success_at = self.clock()
            FAILING.labels(st.receiver, st.integration).set(0)
            self.dependencies.up(worker.name)
        else:
            st.failed += 1
            st.consecutive_failures += 1
            st.last_error = error
            FAILING.labels(st.receiver, st.integration).set(1)
            self.dependencies.down(worker.name, error)
            log.warning(
                "notification to %s/%s failed after %d attempts: %s",
                st.receiver,
                st.integration,
                attempts,
                error,
            )
        NOTIFICATIONS.labels(st.receiver, st.integration, "sent" if ok else "failed").inc()
        try:
            outcome(ok, attempts, error)
        except Exception:
            log.exception("recording a notification outcome failed")
