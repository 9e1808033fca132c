"""Delivery: one worker per receiver integration, retries with exponential backoff, status.

A slow or failing integration only delays its own queue; every outcome (sent or failed after
all retries) is reported to the caller, so nothing is dropped silently.
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
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from openmanager.notify.receivers.base import Integration, Message

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


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts per notification and exponential backoff between them."""

    attempts: int = 5
    initial_s: float = 1.0
    max_s: float = 60.0


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
    jobs: queue.Queue[tuple[Message, Outcome] | None] = field(default_factory=queue.Queue)
    thread: threading.Thread | None = None


def transient(exc: BaseException) -> bool:
    """Worth retrying: anything but an HTTP 4xx answer (other than 408 and 429)."""
    if isinstance(exc, httpx.HTTPStatusError):
        code = exc.response.status_code
        return not (400 <= code < 500) or code in (408, 429)
    return True


class Delivery:
    """Runs each integration's notifications in order on its own thread."""

    def __init__(self, policy: RetryPolicy, clock: Callable[[], float] = time.time) -> None:
        self.policy = policy
        self.clock = clock
        self._workers: dict[tuple[str, int], _Worker] = {}
        self._lock = threading.Lock()

    def register(self, receiver: str, index: int, integration: Integration) -> None:
        """Add an integration (index = its position among the receiver's integrations)."""
        status = IntegrationStatus(receiver, integration.kind, index)
        worker = _Worker(integration, status)
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
        st, p = worker.status, self.policy
        attempts = 0
        error = ""
        retrying = Retrying(
            stop=stop_after_attempt(max(1, p.attempts)),
            retry=retry_if_exception(transient),
            wait=wait_exponential(multiplier=p.initial_s, min=p.initial_s, max=p.max_s),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    attempts += 1
                    st.attempts += 1
                    st.last_attempt_at = self.clock()
                    ATTEMPTS.labels(st.receiver, st.integration).inc()
                    worker.integration.notify(message)
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
        else:
            st.failed += 1
            st.consecutive_failures += 1
            st.last_error = error
            FAILING.labels(st.receiver, st.integration).set(1)
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
