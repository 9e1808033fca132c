"""Series checks before fitting: regular grid, gaps, counter resets, non-finite values.

A forecast is only made from data that supports it; otherwise a `ForecastError` says what is
wrong and what to do instead (e.g. forecast `rate(x[5m])` for a counter that resets).
"""

from __future__ import annotations

import numpy as np

from openmanager.analytics.forecast.errors import (
    CounterResets,
    InsufficientHistory,
    NonFiniteValues,
    SeriesGaps,
)
from openmanager.analytics.forecast.types import Prepared
from openmanager.samples import Float64Array, Int64Array
from openmanager.units import format_duration

MIN_POINTS = 12
"""Fewer points than this say nothing about a trend or its noise."""
MAX_MISSING_FRACTION = 0.10
MAX_GAP_FRACTION = 0.05
"""A single gap longer than this share of the window (and than MAX_GAP_STEPS) is refused."""
MAX_GAP_STEPS = 12
COUNTER_SUFFIXES = ("_total", "_count", "_sum", "_bucket")


def human(ms: int) -> str:
    """A duration for messages, rounded to hours past a day and to minutes past an hour."""
    if ms <= 0:
        return "0s"
    unit = 3_600_000 if ms >= 86_400_000 else 60_000 if ms >= 3_600_000 else 1000
    return format_duration(max(unit, int(round(ms / unit)) * unit)) if ms >= 1000 else f"{ms}ms"


def prepare(
    timestamps: Int64Array,
    values: Float64Array,
    step_ms: int | None = None,
    name: str = "",
) -> Prepared:
    """Put a series on its grid, fill short gaps, refuse what cannot be forecast honestly."""
    ts = np.asarray(timestamps, dtype=np.int64)
    vs = np.asarray(values, dtype=np.float64)
    keep = ~np.isnan(vs)
    ts, vs = ts[keep], vs[keep]
    what = f"{name} " if name else ""
    if len(ts) < MIN_POINTS:
        raise InsufficientHistory(
            f"series {what}has {len(ts)} points; a forecast needs at least {MIN_POINTS}"
        )
    if not np.isfinite(vs).all():
        bad = int((~np.isfinite(vs)).sum())
        raise NonFiniteValues(f"series {what}has {bad} infinite values; cannot forecast it")
    order = np.argsort(ts, kind="stable")
    ts, vs = ts[order], vs[order]
    step = int(step_ms) if step_ms else int(np.median(np.diff(ts)))
    if step <= 0:
        raise InsufficientHistory(f"series {what}has duplicate timestamps only")
    start = int(ts[0])
    idx = np.rint((ts - start) / step).astype(np.int64)
    n = int(idx[-1]) + 1
    grid = np.full(n, np.nan)
    grid[idx] = vs  # two samples in one grid cell: the later wins
    missing = np.isnan(grid)
    filled = int(missing.sum())
    notes: list[str] = []
    if filled:
        _check_gaps(missing, start, step, what)
        known = np.flatnonzero(~missing)
        grid = np.interp(np.arange(n), known, grid[known])
        notes.append(f"filled {filled} missing points ({filled / n:.1%}) by interpolation")
    _check_counter(grid, start, step, name)
    return Prepared(start, step, grid, filled, tuple(notes))


def _check_gaps(missing: np.ndarray, start: int, step: int, what: str) -> None:
    n = len(missing)
    frac = missing.mean()
    # runs of missing points
    edges = np.diff(np.concatenate([[0], missing.astype(np.int8), [0]]))
    run_starts = np.flatnonzero(edges == 1)
    run_ends = np.flatnonzero(edges == -1)
    lengths = run_ends - run_starts
    k = int(np.argmax(lengths))
    longest = int(lengths[k])
    gap_from = start + (int(run_starts[k]) - 1) * step
    gap_to = start + int(run_ends[k]) * step
    if longest > MAX_GAP_STEPS and longest > MAX_GAP_FRACTION * n:
        raise SeriesGaps(
            f"series {what}has a gap of {human((longest + 1) * step)} "
            f"(no samples between t={gap_from / 1000:.0f} and t={gap_to / 1000:.0f}), "
            f"{longest / n:.0%} of the window; forecasting across it would invent data. "
            "Use a window after the gap or a coarser step"
        )
    if frac > MAX_MISSING_FRACTION:
        raise SeriesGaps(
            f"series {what}is missing {frac:.0%} of its points at step {human(step)} "
            f"(at most {MAX_MISSING_FRACTION:.0%} can be filled); use a coarser step"
        )


def _check_counter(values: Float64Array, start: int, step: int, name: str) -> None:
    """A series that mostly rises and sometimes drops sharply is a counter with resets."""
    d = np.diff(values)
    if len(d) == 0:
        return
    drops = np.flatnonzero(d < 0)
    rising = (d >= 0).mean()
    looks_counter = name.endswith(COUNTER_SUFFIXES) or rising >= 0.98
    if not looks_counter or len(drops) == 0:
        return
    prev = values[drops]
    sharp = drops[(values[drops + 1] < 0.5 * prev) & (prev > 0)]
    if len(sharp) == 0:
        return
    when = ", ".join(f"t={(start + (int(i) + 1) * step) / 1000:.0f}" for i in sharp[:3])
    target = name or "the series"
    raise CounterResets(
        f"{target} is a counter that reset {len(sharp)} time(s) ({when}); its raw value is not "
        f"forecastable. Forecast its rate instead, e.g. rate({name or 'x'}[5m])"
    )
