"""Named periodic jobs (simulator tick, rule evaluation, analytics) on the event loop.

Blocking jobs run in a worker thread so the API stays responsive; each job's runs,
failures and durations are kept for `/api/v1/status/jobs` and the app's own metrics.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from prometheus_client import Counter, Histogram

from openmanager.errors import Conflict, InvalidInput

log = logging.getLogger(__name__)

JobFn = Callable[[], None] | Callable[[], Awaitable[None]]

JOB_RUNS = Counter("openmanager_job_runs_total", "Runs of scheduled jobs.", ["job", "outcome"])
JOB_SECONDS = Histogram(
    "openmanager_job_duration_seconds", "Duration of scheduled job runs.", ["job"]
)


@dataclass
class JobStatus:
    """What a job has done so far."""

    name: str
    interval_s: float
    runs: int = 0
    failures: int = 0
    last_duration_s: float | None = None
    last_error: str | None = None
    last_run_at: float | None = None


@dataclass
class _Job:
    fn: JobFn
    status: JobStatus
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class Scheduler:
    """Runs each registered job every `interval_s`, never two runs of one job at once."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._jobs: dict[str, _Job] = {}
        self._clock = clock
        self._running = False

    def add(self, name: str, interval_s: float, fn: JobFn) -> None:
        """Register a job; it starts with the scheduler (or at once if already running)."""
        if name in self._jobs:
            raise Conflict(f"a job named {name!r} is already scheduled")
        if interval_s <= 0:
            raise InvalidInput(f"job {name!r}: interval must be positive, got {interval_s}")
        job = _Job(fn, JobStatus(name, interval_s))
        self._jobs[name] = job
        if self._running:
            job.task = asyncio.create_task(self._loop(job), name=f"job:{name}")

    def status(self) -> list[JobStatus]:
        """Status of every job, by name."""
        return [self._jobs[n].status for n in sorted(self._jobs)]

    async def run_once(self, name: str) -> None:
        """Run one job now (used by tests and on-demand triggers)."""
        await self._run(self._jobs[name])

    def start(self) -> None:
        """Start every job's loop on the running event loop."""
        self._running = True
        for name, job in self._jobs.items():
            if job.task is None:
                job.task = asyncio.create_task(self._loop(job), name=f"job:{name}")

    async def stop(self) -> None:
        """Cancel every loop and wait for the runs in progress to end."""
        self._running = False
        tasks = [j.task for j in self._jobs.values() if j.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for job in self._jobs.values():
            job.task = None

    async def _loop(self, job: _Job) -> None:
        interval = job.status.interval_s
        next_at = self._clock()
        while True:
            await self._run(job)
            next_at += interval
            delay = next_at - self._clock()
            if delay < 0:  # fell behind: skip missed runs rather than bunching them up
                next_at = self._clock()
                delay = 0
            await asyncio.sleep(delay)

    async def _run(self, job: _Job) -> None:
        status = job.status
        started = time.perf_counter()
        status.last_run_at = self._clock()
        try:
            if inspect.iscoroutinefunction(job.fn):
                await job.fn()
            else:
                await asyncio.to_thread(job.fn)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a failing job must not stop the others
            status.failures += 1
            status.last_error = f"{type(exc).__name__}: {exc}"
            JOB_RUNS.labels(status.name, "failure").inc()
            log.exception("job %s failed", status.name)
        else:
            status.last_error = None
            JOB_RUNS.labels(status.name, "success").inc()
        finally:
            status.runs += 1
            status.last_duration_s = time.perf_counter() - started
            JOB_SECONDS.labels(status.name).observe(status.last_duration_s)
