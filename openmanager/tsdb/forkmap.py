"""Map a function over items in forked worker processes that inherit the caller's memory.

For CPU-bound work on data the caller already holds (writing the blocks of a bulk import):
the children read it through fork's copy-on-write, so only item indices and the (small)
results cross a pipe. Where fork is unavailable, or one worker is asked for, it is a loop.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

MAX_WORKERS = 4

_task: Callable[[int], Any] | None = None
_task_lock = threading.Lock()


def default_workers() -> int:
    """One worker per CPU, at most MAX_WORKERS."""
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS))


def fork_map(fn: Callable[[T], R], items: Sequence[T], workers: int | None = None) -> list[R]:
    """`[fn(x) for x in items]`, run by up to `workers` forked processes; results in order.

    `fn` may be a closure (it is inherited, not pickled); its results must be picklable.
    An exception in a child is raised here.
    """
    n = min(default_workers() if workers is None else workers, len(items))
    if n <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        return [fn(x) for x in items]
    global _task
    with _task_lock:  # the children copy `_task` when the pool forks them
        _task = lambda i: fn(items[i])  # noqa: E731
        try:
            pool = multiprocessing.get_context("fork").Pool(n)
        finally:
            _task = None
    with pool:
        return pool.map(_run, range(len(items)), chunksize=1)


def _run(i: int) -> Any:
    """Child side: the task inherited from the parent, on one item."""
    assert _task is not None, "fork_map task missing in the worker"
    return _task(i)
