"""Gather the evidence for root-cause ranking: every signal of every server over an incident window."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from openmanager.analytics.rca.changes import Change, find_changes
from openmanager.analytics.rca.signals import SIGNALS, Signal
from openmanager.promql.engine import QueryResult
from openmanager.samples import Labels

MIN_MS = 60_000
DEFAULT_BASELINE_MS = 120 * MIN_MS
DAY_MS = 24 * 60 * MIN_MS
DEFAULT_MARGIN_MS = 15 * MIN_MS
"""How long before the incident's start a cause may already have begun to change."""
MAX_POINTS = 480


class RangeQueries(Protocol):
    """What ranking needs from the query service: PromQL range queries."""

    def range(self, expr: str, start_ms: int, end_ms: int, step_ms: int) -> QueryResult: ...


@dataclass(frozen=True)
class Window:
    """Baseline start, search start (a margin before the incident), incident start, end (ms)."""

    baseline_ms: int
    search_ms: int
    start_ms: int
    end_ms: int
    step_ms: int
    rate_window: str

    @classmethod
    def around(
        cls,
        start_ms: int,
        end_ms: int,
        step_ms: int | None = None,
        baseline_ms: int = DEFAULT_BASELINE_MS,
        margin_ms: int = DEFAULT_MARGIN_MS,
    ) -> Window:
        """The window for an incident that started at `start_ms` and is looked at up to `end_ms`."""
        search = start_ms - margin_ms
        first = search - baseline_ms
        if step_ms is None:
            raw = max(15_000, (end_ms - first) // MAX_POINTS)
            step_ms = int(math.ceil(raw / 15_000) * 15_000)
        rate_s = max(60, 4 * step_ms // 1000)
        end = max(end_ms, search + step_ms)
        # the grid ends exactly at `end`, so the newest samples are always looked at
        first = end - math.ceil((end - first) / step_ms) * step_ms
        return cls(first, search, start_ms, end, step_ms, f"{rate_s}s")


@dataclass(frozen=True)
class Observation:
    """One signal of one server over the window: its series, PromQL and the change found in it."""

    server: str
    signal: Signal
    labels: dict[str, str]
    promql: str
    change: Change
    times: np.ndarray
    values: np.ndarray


def server_selector(servers: Sequence[str] | None) -> str:
    """A label-matcher body selecting these servers (`server=~"a|b"`), empty for all."""
    if not servers:
        return ""
    return 'server=~"' + "|".join(s.replace(".", "\\\\.") for s in sorted(servers)) + '"'


def _label(labels: Labels, name: str) -> str:
    return next((v for k, v in labels if k == name), "")


def _matrix(result: QueryResult, times: np.ndarray, shift_ms: int = 0) -> dict[Labels, np.ndarray]:
    """Rows (by labels, only series with a `server`) on the `times` grid; NaN where missing."""
    out = {}
    for s in result.series:
        if not _label(s.labels, "server"):
            continue
        row = np.full(len(times), np.nan)
        ts = s.timestamps + shift_ms
        idx = np.searchsorted(times, ts)
        ok = (idx < len(times)) & (times[np.minimum(idx, len(times) - 1)] == ts)
        row[idx[ok]] = s.values[ok]
        out[s.labels] = row
    return out


def observe(
    queries: RangeQueries,
    window: Window,
    servers: Sequence[str] | None = None,
    signals: Sequence[Signal] = SIGNALS,
) -> list[Observation]:
    """Query every signal over `window` (for `servers`, default all) and find each series' change.

    The same window a day earlier is the reference that takes out the daily rhythm
    (where there is no data that old, the baseline before the incident alone is used).
    """
    w = window
    times = np.arange(w.baseline_ms, w.end_ms + 1, w.step_ms, dtype=np.int64)
    out: list[Observation] = []
    sel = server_selector(servers)
    for sig in signals:
        expr = sig.promql(sel, w.rate_window)
        result = queries.range(expr, w.baseline_ms, w.end_ms, w.step_ms)
        rows = _matrix(result, times)
        if not rows:
            continue
        before = queries.range(expr, w.baseline_ms - DAY_MS, w.end_ms - DAY_MS, w.step_ms)
        ref_rows = _matrix(before, times, DAY_MS)
        keys = list(rows)
        mat = np.array([rows[k] for k in keys])
        ref = np.array([ref_rows.get(k, np.full(len(times), np.nan)) for k in keys])
        changes = find_changes(times, mat, w.search_ms, ref, sig.floor, sig.worse, sig.floor_rel)
        for i, key in enumerate(keys):
            labels = {k: v for k, v in key if k != "__name__"}
            inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
            out.append(
                Observation(
                    labels["server"], sig, labels, sig.promql(inner, w.rate_window),
                    changes[i], times, mat[i] - np.nan_to_num(ref[i]),
                )
            )  # fmt: skip
    return out
