"""The scheduler runs named jobs periodically, isolates failures and stops cleanly."""

from __future__ import annotations

import asyncio
import threading

import pytest

from openmanager.errors import Conflict, InvalidInput
from openmanager.services.scheduler import Scheduler


def test_jobs_run_repeatedly_and_failures_are_counted_not_fatal() -> None:
    async def main() -> tuple[int, int, int, str | None]:
        sched = Scheduler()
        calls = {"sync": 0, "async": 0}
        thread_names: set[str] = set()

        def sync_job() -> None:
            calls["sync"] += 1
            thread_names.add(threading.current_thread().name)

        async def async_job() -> None:
            calls["async"] += 1

        def broken() -> None:
            raise RuntimeError("boom")

        sched.add("sync", 0.01, sync_job)
        sched.add("async", 0.01, async_job)
        sched.add("broken", 0.01, broken)
        sched.start()
        await asyncio.sleep(0.2)
        await sched.stop()
        status = {s.name: s for s in sched.status()}
        assert threading.main_thread().name not in thread_names  # blocking jobs run off the loop
        return calls["sync"], calls["async"], status["broken"].failures, status["broken"].last_error

    n_sync, n_async, failures, error = asyncio.run(main())
    assert n_sync >= 3 and n_async >= 3
    assert failures >= 3
    assert error == "RuntimeError: boom"


def test_stop_leaves_no_running_tasks() -> None:
    async def main() -> int:
        sched = Scheduler()
        sched.add("tick", 0.01, lambda: None)
        sched.start()
        await asyncio.sleep(0.05)
        await sched.stop()
        runs = sched.status()[0].runs
        await asyncio.sleep(0.05)
        assert sched.status()[0].runs == runs  # nothing ran after stop
        return runs

    assert asyncio.run(main()) >= 1


def test_bad_registrations_are_rejected() -> None:
    sched = Scheduler()
    sched.add("a", 1, lambda: None)
    with pytest.raises(Conflict):
        sched.add("a", 1, lambda: None)
    with pytest.raises(InvalidInput):
        sched.add("b", 0, lambda: None)
