"""Health of each outside dependency (Redis, remote storage, notifiers...), for /-/ready and /metrics.

Clients report every success and failure; a dependency that is down degrades the instance
(it keeps serving from memory) but does not make it unready. The first failure and the
recovery are logged once each, not on every failed call.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client import Gauge

log = logging.getLogger(__name__)

DEPENDENCY_UP = Gauge(
    "openmanager_dependency_up",
    "1 while an outside dependency answers, 0 while it fails.",
    ["dependency"],
)


@dataclass
class DependencyState:
    """One dependency's current health."""

    name: str
    up: bool = True
    since: float = 0.0
    last_error: str = ""
    failures: int = 0
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": "up" if self.up else "down",
            "since": self.since,
            "last_error": self.last_error,
            "failures": self.failures,
            "detail": self.detail,
        }


class Dependencies:
    """The dependencies an instance uses and whether each works right now (thread-safe)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._states: dict[str, DependencyState] = {}

    def register(self, name: str, detail: str = "") -> None:
        """Declare a dependency (reported up until a call fails)."""
        with self._lock:
            self._states.setdefault(name, DependencyState(name, since=self._clock(), detail=detail))
        DEPENDENCY_UP.labels(name).set(1)

    def up(self, name: str) -> None:
        """A call to `name` worked."""
        with self._lock:
            state = self._states.setdefault(name, DependencyState(name, since=self._clock()))
            if state.up:
                return
            down_s = self._clock() - state.since
            state.up, state.since = True, self._clock()
        DEPENDENCY_UP.labels(name).set(1)
        log.warning("dependency %s is back after %.1fs", name, down_s)

    def down(self, name: str, error: BaseException | str) -> None:
        """A call to `name` failed with `error`."""
        text = str(error) or type(error).__name__
        with self._lock:
            state = self._states.setdefault(name, DependencyState(name, since=self._clock()))
            state.failures += 1
            state.last_error = text
            if not state.up:
                return
            state.up, state.since = False, self._clock()
        DEPENDENCY_UP.labels(name).set(0)
        log.error("dependency %s is down, serving from memory: %s", name, text)

    def is_up(self, name: str) -> bool:
        with self._lock:
            state = self._states.get(name)
            return state is None or state.up

    def degraded(self) -> list[DependencyState]:
        """The dependencies that are down now."""
        with self._lock:
            return [DependencyState(**vars(s)) for s in self._states.values() if not s.up]

    def snapshot(self) -> list[dict[str, Any]]:
        """Every dependency's state, by name."""
        with self._lock:
            return [self._states[n].to_json() for n in sorted(self._states)]
