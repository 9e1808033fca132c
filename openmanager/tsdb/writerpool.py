"""`WriterPool`: a persistent worker process that encodes and writes blocks off the caller's GIL.

The worker is a fresh interpreter (`python -c`, never a fork of the threaded server, and unlike
multiprocessing's spawn/forkserver it never re-imports the caller's `__main__`), started on
first use. Tasks are a module-level function and its arguments, pickled over a pipe; the caller
waits on the pipe with the GIL released. The worker exits when its pipe closes (so it never
outlives the server, even after `kill -9`); a worker that dies is replaced on the next task.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import IO, Any, ParamSpec, TypeVar

from openmanager.errors import Unavailable

P = ParamSpec("P")
R = TypeVar("R")

_LEN = 8
_WORKER = "from openmanager.tsdb.writerpool import serve; serve()"


def _send(out: IO[bytes], obj: object) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(len(data).to_bytes(_LEN, "little"))
    out.write(data)
    out.flush()


def _recv(src: IO[bytes]) -> Any:
    head = src.read(_LEN)
    if len(head) < _LEN:
        raise EOFError("pipe closed")
    size = int.from_bytes(head, "little")
    data = src.read(size)
    if len(data) < size:
        raise EOFError("pipe closed mid-message")
    return pickle.loads(data)


class WriterPool:
    """One long-lived worker process running picklable module-level functions, one at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._closed = False

    def run(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """`fn(*args, **kwargs)` in the worker; its exception is raised here.

        A worker that dies mid-task, or a closed pool, raises `Unavailable`.
        """
        with self._lock:
            if self._closed:
                raise Unavailable("the block writer process is stopped")
            proc = self._proc if self._proc is not None else self._start()
            assert proc.stdin is not None and proc.stdout is not None
            try:
                _send(proc.stdin, (fn, args, kwargs))
                ok, value = _recv(proc.stdout)
            except (OSError, EOFError, pickle.UnpicklingError) as exc:
                self._stop(kill=True)
                raise Unavailable(
                    f"the block writer process died ({exc}); will restart it"
                ) from exc
            except BaseException:  # interrupted mid-exchange: the pipe is out of step
                self._stop(kill=True)
                raise
        if ok:
            return value  # type: ignore[no-any-return]
        raise value

    def _start(self) -> subprocess.Popen[bytes]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)  # the caller's code
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _WORKER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            start_new_session=True,  # no terminal signals: it ends when its pipe closes
        )
        return self._proc

    def _stop(self, *, kill: bool) -> None:
        """Close the worker's pipe and reap it (the caller holds `_lock`)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if kill:
            proc.kill()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    @property
    def pid(self) -> int | None:
        """The worker's process id, or None when none runs."""
        proc = self._proc
        return None if proc is None else proc.pid

    def close(self) -> None:
        """Stop the worker after the task in progress (idempotent); later tasks fail."""
        with self._lock:
            self._closed = True
            self._stop(kill=False)


def serve() -> None:
    """Worker side: run tasks from stdin until it closes, answering (ok, result) on stdout."""
    src = os.fdopen(os.dup(0), "rb")
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # stray prints go to stderr, never into the answer pipe
    while True:
        try:
            fn, args, kwargs = _recv(src)
        except EOFError:
            return
        try:
            answer: tuple[bool, object] = (True, fn(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - handed to the caller, who raises it
            answer = (False, exc)
        try:
            _send(out, answer)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            _send(out, (False, RuntimeError(f"{answer[1]!r} (unpicklable: {exc})")))
