"""Instant and range selectors: raw series from storage turned into step vectors and windows.

An instant selector takes, at each step, the newest sample in `(t - lookback, t]` unless that
sample is a stale marker; a range selector keeps the raw samples (stale markers removed) and
lets each consumer cut left-open windows `(t - range, t]` with `RangeVector.window_bounds`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from openmanager.promql.types import RangeSeries, RangeVector, StepVector
from openmanager.samples import Int64Array, is_stale
from openmanager.tsdb.matchers import Matcher
from openmanager.tsdb.storage import Series, Storage


def fetch(
    storage: Storage, matchers: Sequence[Matcher], start_ms: int, end_ms: int
) -> list[Series]:
    """Select matching series once for the whole time span a selector needs, sorted by labels."""
    if end_ms < start_ms:
        return []
    found = storage.select(list(matchers), start_ms, end_ms)
    return sorted(found, key=lambda s: s.labels)


def instant_vector(
    series: Sequence[Series], ref_ts: Int64Array, lookback_ms: int, closed: bool = False
) -> StepVector:
    """The value of each series at each reference time (one per step), with lookback and staleness.

    `closed` (Prometheus 2) also accepts a sample exactly `lookback_ms` old.
    """
    oldest = ref_ts - lookback_ms - (1 if closed else 0)
    n_steps = len(ref_ts)
    labels = []
    rows_v, rows_p, rows_t = [], [], []
    for s in series:
        ts = s.timestamps
        if len(ts) == 0:
            continue
        idx = np.searchsorted(ts, ref_ts, side="right") - 1
        safe = np.maximum(idx, 0)
        sample_t = ts[safe]
        vals = s.values[safe]
        present = (idx >= 0) & (sample_t > oldest) & ~is_stale(vals)
        if not present.any():
            continue
        labels.append(s.labels)
        rows_v.append(vals)
        rows_p.append(present)
        rows_t.append(sample_t)
    if not labels:
        return StepVector.empty(n_steps)
    return StepVector(
        labels=labels,
        values=np.vstack(rows_v),
        present=np.vstack(rows_p),
        sample_ts=np.vstack(rows_t).astype(np.int64),
    )


def range_vector(
    series: Sequence[Series], steps: Int64Array, range_ms: int, closed: bool = False
) -> RangeVector:
    """Raw samples of each series (stale markers dropped) for windows `(t - range, t]`."""
    out = []
    for s in series:
        ts = np.asarray(s.timestamps, dtype=np.int64)
        vs = np.asarray(s.values, dtype=np.float64)
        stale = is_stale(vs)
        if stale.any():  # copy only the (rare) series that carry stale markers
            keep = ~stale
            ts, vs = ts[keep], vs[keep]
        if len(ts) == 0:
            continue
        out.append(RangeSeries(s.labels, ts, vs))
    return RangeVector(out, np.asarray(steps, dtype=np.int64), range_ms, closed)


def range_to_samples(rv: RangeVector) -> list[RangeSeries]:
    """For an instant query returning a range vector: each series' samples in its only window."""
    out = []
    for s in rv.series:
        lo, hi = rv.window_bounds(s)
        a, b = int(lo[0]), int(hi[0])
        if b > a:
            out.append(RangeSeries(s.labels, s.timestamps[a:b], s.values[a:b]))
    return out
