"""Downsampling: per-window min, max, sum, count, last (and counter increase), vectorised.

Windows are left-open and right-closed like PromQL range selectors: a sample at t belongs to
the window `(end - res, end]` with `end = ceil(t / res) * res`, and a rollup point carries the
window's *end* as its timestamp. So `max_over_time(x[1h])` at an hour boundary T is exactly
the 1h rollup point at T, and coarser tiers are computed exactly from finer ones (the
windows nest). Stale markers are not samples (skipped); other NaNs count, propagate into
`sum`, and are ignored by `min`/`max` unless a window holds nothing else (like np.fmin).
Sums of values with few decimals are stored as their exact decimal (see `snap_sums`).

`increase` (counters only): the reset-aware increase from the sample before each sample to
that sample, summed per window (a drop is a reset, counted as the new value). Summing it over
consecutive windows gives the exact increase over their union, so rate() stays correct even
when a counter resets and re-passes its old value within one window.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from openmanager.samples import Float64Array, Int64Array, Labels, SeriesMeta, is_stale, metric_name
from openmanager.tsdb.block import Columns
from openmanager.tsdb.block_format import ROLLUP_COLUMNS

MIN, MAX, SUM, COUNT, LAST, INCREASE = range(len(ROLLUP_COLUMNS))
_MAX_DECIMALS = 6
_EPS = float(np.finfo(np.float64).eps)
_COUNTER_SUFFIXES = {"_total": "counter", "_bucket": "histogram", "_count": "", "_sum": ""}


@dataclass(frozen=True)
class RollupSeries:
    """One series in a downsampled tier; `timestamps` are window ends, window = (end-res, end]."""

    labels: Labels
    resolution_ms: int
    timestamps: Int64Array
    min: Float64Array
    max: Float64Array
    sum: Float64Array
    count: Float64Array
    last: Float64Array
    increase: Float64Array | None
    """Reset-aware counter increase per window; None for series that are not counters."""

    @classmethod
    def from_columns(
        cls, labels: Labels, resolution_ms: int, timestamps: Int64Array, cols: Columns
    ) -> RollupSeries:
        """Build from the (6, windows) column array stored in rollup blocks."""
        inc = cols[INCREASE]
        return cls(
            labels,
            resolution_ms,
            timestamps,
            cols[MIN],
            cols[MAX],
            cols[SUM],
            cols[COUNT],
            cols[LAST],
            None if bool(np.all(np.isnan(inc))) else inc,
        )

    def avg(self) -> Float64Array:
        """Mean of the samples per window."""
        return self.sum / self.count


def window_ends(timestamps: Int64Array, resolution_ms: int) -> Int64Array:
    """End of the (end - res, end] window each timestamp falls in."""
    return -((-timestamps) // resolution_ms) * resolution_ms


def _starts(ends: Int64Array) -> Int64Array:
    """Index of the first element of each run of equal window ends."""
    return np.flatnonzero(np.r_[True, ends[1:] != ends[:-1]])


def decimal_places(values: Float64Array) -> int | None:
    """Fewest decimals (at most 6) writing every finite value exactly, or None."""
    v = values[np.isfinite(values)]
    if len(v) == 0:
        return 0
    top = float(np.abs(v).max())
    for k in range(_MAX_DECIMALS + 1):
        if top * 10.0**k >= 2.0**52:
            return None
        if np.array_equal(np.round(v, k), v):
            return k
    return None


def snap_sums(
    sums: Float64Array, magnitude: Float64Array, terms: Float64Array, k: int | None
) -> Float64Array:
    """Round float sums of k-decimal numbers to k decimals where only summation error differs.

    The exact sum of k-decimal values has k decimals; float accumulation drifts from it by
    at most ~terms * eps * sum(|x|). Snapping restores it (and lets the codec store the column
    as small decimals instead of noisy float bits); anything further off is left untouched.
    """
    if k is None or len(sums) == 0:
        return sums
    snapped = np.round(sums, k)
    with np.errstate(invalid="ignore"):
        close = np.abs(snapped - sums) <= 4.0 * _EPS * (terms + 1.0) * magnitude
    return np.where(close, snapped, sums)


def is_counter(labels: Labels, metadata: Mapping[str, SeriesMeta]) -> bool:
    """Counter-like (rate-able) series: by family metadata, else by the `_total` suffix."""
    name = metric_name(labels)
    meta = metadata.get(name)
    if meta is not None and meta.type != "unknown":
        return meta.type == "counter"
    for suffix in _COUNTER_SUFFIXES:
        if name.endswith(suffix):
            fam = metadata.get(name[: -len(suffix)])
            if fam is not None and fam.type != "unknown":
                return fam.type == "counter" or (
                    fam.type in ("histogram", "summary") and suffix != "_total"
                )
    return name.endswith("_total")


def rollup_raw(
    timestamps: Int64Array,
    values: Float64Array,
    resolution_ms: int,
    *,
    counter: bool,
    prev_value: float | None = None,
) -> tuple[Int64Array, Columns]:
    """Window ends and the (6, windows) rollup columns of raw samples sorted by time.

    `prev_value` is the counter's last value before `timestamps[0]` (so the first window's
    increase includes the step from it); None when unknown.
    """
    keep = ~is_stale(values)
    ts, vs = timestamps[keep], values[keep]
    if len(ts) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros((len(ROLLUP_COLUMNS), 0))
    ends = window_ends(ts, resolution_ms)
    starts = _starts(ends)
    stops = np.r_[starts[1:], len(ts)]
    cols = np.empty((len(ROLLUP_COLUMNS), len(starts)))
    cols[MIN] = np.fmin.reduceat(vs, starts)
    cols[MAX] = np.fmax.reduceat(vs, starts)
    cols[COUNT] = stops - starts
    k = decimal_places(vs)
    magnitude = np.add.reduceat(np.nan_to_num(np.abs(vs), posinf=0.0), starts)
    cols[SUM] = snap_sums(np.add.reduceat(vs, starts), magnitude, cols[COUNT], k)
    cols[LAST] = vs[stops - 1]
    if counter:
        contrib = np.zeros(len(vs))
        ok = np.flatnonzero(~np.isnan(vs))
        if len(ok):
            v = vs[ok]
            prev = np.r_[np.nan if prev_value is None else prev_value, v[:-1]]
            with np.errstate(invalid="ignore"):
                d = np.where(v < prev, v, v - prev)
            d[np.isnan(prev)] = 0.0
            contrib[ok] = d
        inc = np.add.reduceat(contrib, starts)
        cols[INCREASE] = snap_sums(inc, 2.0 * magnitude, 2.0 * cols[COUNT], k)
    else:
        cols[INCREASE] = np.nan
    return ends[starts], cols


def rollup_coarser(
    ends: Int64Array, cols: Columns, resolution_ms: int
) -> tuple[Int64Array, Columns]:
    """Re-aggregate rollup windows into coarser nested windows (exact for every column)."""
    if len(ends) == 0:
        return ends, cols
    new_ends = window_ends(ends, resolution_ms)
    starts = _starts(new_ends)
    stops = np.r_[starts[1:], len(ends)]
    out = np.empty((cols.shape[0], len(starts)))
    out[MIN] = np.fmin.reduceat(cols[MIN], starts)
    out[MAX] = np.fmax.reduceat(cols[MAX], starts)
    out[COUNT] = np.add.reduceat(cols[COUNT], starts)
    terms = np.add.reduceat(np.ones(len(ends)), starts)
    for c in (SUM, INCREASE):
        magnitude = np.add.reduceat(np.nan_to_num(np.abs(cols[c]), posinf=0.0), starts)
        summed = np.add.reduceat(cols[c], starts)
        out[c] = snap_sums(summed, magnitude, terms, decimal_places(cols[c]))
    out[LAST] = cols[LAST][stops - 1]
    return new_ends[starts], out


def best_resolution(
    start_ms: int,
    end_ms: int,
    step_ms: int,
    coverage: Mapping[int, tuple[int, int] | None],
) -> int:
    """Coarsest resolution <= step whose tier covers [start, end]; 0 (raw) when none does.

    `coverage` maps a tier's resolution to the (first, last) window end it holds complete.
    """
    best = 0
    for res, span in coverage.items():
        if res <= 0 or res > step_ms or span is None or res <= best:
            continue
        first, last = span
        if first - res <= start_ms and last >= end_ms:
            best = res
    return best
