"""`Cutter`: one background thread that runs a job when asked, so the write path never does it.

Requests coalesce (many asks while a run is in progress cause one more run); `wait_idle` lets a
reader wait until every request made so far has been served, for settled statistics and tests.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Cutter:
    """Runs `job` on a daemon thread after each `request`; `stop` ends and joins the thread."""

    def __init__(self, job: Callable[[], None], *, name: str = "tsdb-cutter") -> None:
        self._job = job
        self._cond = threading.Condition()
        self._requested = 0
        self._done = 0
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def request(self) -> None:
        """Ask for one more run of the job (returns at once)."""
        with self._cond:
            self._requested += 1
            self._cond.notify_all()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until the requests made before this call are served; False on timeout."""
        with self._cond:
            target = self._requested
            return self._cond.wait_for(
                lambda: self._done >= target or self._stopping or not self._thread.is_alive(),
                timeout,
            )

    def stop(self) -> None:
        """Stop after the run in progress (if any) and join the thread (idempotent)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join()

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._stopping or self._requested > self._done)
                if self._stopping:
                    self._cond.notify_all()
                    return
                target = self._requested
            try:
                self._job()
            except Exception:  # keep the thread alive: the next request retries
                log.exception(
                    "background job %s failed; will retry on the next request", self._thread.name
                )
            with self._cond:
                self._done = target
                self._cond.notify_all()
