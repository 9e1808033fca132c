"""Shared fixtures of the TSDB tests: a fake clock and synthetic series labels."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from openmanager.samples import Labels, make_labels


class FakeClock:
    """A settable wall clock in milliseconds, injected as `now_ms`."""

    def __init__(self, now_ms: int) -> None:
        self.now = now_ms

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    """A clock at a fixed, block-aligned instant."""
    return FakeClock(1_700_006_400_000)


@pytest.fixture
def series_labels() -> Callable[[int], Labels]:
    """Labels of the i-th synthetic series."""

    def make(i: int) -> Labels:
        return make_labels("node_cpu_seconds_total", {"instance": f"host-{i % 7}", "cpu": str(i)})

    return make
