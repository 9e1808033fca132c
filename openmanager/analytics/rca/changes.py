"""When and by how much each series changed: CUSUM change points against a robust baseline.

Rows are series on a shared time grid. The part before `search_from` is the baseline (its
median and MAD give the expected level and spread); after it, the CUSUM detector from
`analytics.detect` finds the first change point and the robust z-scores give its size.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from openmanager.analytics.detect.base import FloatArray
from openmanager.analytics.detect.registry import create
from openmanager.samples import Int64Array

SIGMA_PER_MAD = 1.4826
FLOOR_REL = 0.01
"""Smallest spread assumed, relative to the level: a flat baseline must not make noise huge."""
ONSET_Z = 4.0
"""A sample this many sigmas off the baseline counts as changed (fallback onset when CUSUM is quiet)."""

QUIET_Z = 1.0
SMOOTH_HALF = 2
"""Samples within this many sigmas of the baseline are taken as not (yet) changed."""


@dataclass(frozen=True)
class Change:
    """One series' change: onset (ms, None if none), size in sigmas, baseline and extreme value."""

    onset_ms: int | None
    z: float
    before: float
    after: float
    peak_ms: int
    sigma: float

    @property
    def changed(self) -> bool:
        """Whether a change point was found."""
        return self.onset_ms is not None


def baseline(
    values: FloatArray, base: np.ndarray, floor_abs: float = 1e-9, floor_rel: float = FLOOR_REL
) -> tuple[FloatArray, FloatArray]:
    """Median and robust sigma (MAD-based, floored) of each row over the `base` columns."""
    b = values[:, base]
    if not b.shape[1]:
        return np.full(len(values), np.nan), np.full(len(values), floor_abs)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # rows without data stay NaN
        med = np.nanmedian(b, axis=1)
        dev = np.abs(b - med[:, None])
        mad = np.nanmedian(dev, axis=1)
        # wandering series have heavier tails than a MAD sees: the 95th percentile must fit too
        p95 = np.nanpercentile(dev, 95, axis=1) / 1.96
    floor = np.maximum(floor_rel * np.abs(np.nan_to_num(med)), floor_abs)
    spread = np.maximum(SIGMA_PER_MAD * np.nan_to_num(mad), np.nan_to_num(p95))
    return med, np.maximum(spread, floor)


def _cusum_onsets(z: FloatArray, base_cols: int, side: str = "both") -> np.ndarray:
    """Column of the first CUSUM alarm after `base_cols` per row (-1 if none).

    The detector is warmed on the baseline; `_walk_back` then finds where that change began.
    """
    n, k = z.shape
    cfg = {"warmup": max(2, min(8, base_cols // 2)), "h": 8.0, "reset_after": 1 << 30,
           "direction": side}  # fmt: skip
    det = create("cusum", cfg, n_series=n)  # no regime reset: the baseline is the reference
    if base_cols:
        det.fit(z[:, :base_cols])
    onset = np.full(n, -1, dtype=np.int64)
    for j in range(base_cols, k):
        score = det.update(z[:, j])
        onset = np.where((score >= 0.5) & (onset < 0), j, onset)
    return onset


def _fill_nan(a: FloatArray) -> FloatArray:
    """Each NaN replaced by the row's previous finite value (or its median when none)."""
    out = a.copy()
    for i in range(len(out)):
        row = out[i]
        bad = ~np.isfinite(row)
        if not bad.any():
            continue
        if bad.all():
            row[:] = 0.0
            continue
        idx = np.where(~bad, np.arange(len(row)), 0)
        np.maximum.accumulate(idx, out=idx)
        row[:] = row[idx]
        row[~np.isfinite(row)] = np.nanmedian(a[i])
    return out


def _walk_back(z: FloatArray, alarm: int, first: int) -> int:
    """Start of the run of off-baseline samples (same sign, |z| >= QUIET_Z) that led to `alarm`.

    The run is followed on a short centred mean of z, so that noise does not cut a slow
    ramp's run short.
    """
    k = 2 * SMOOTH_HALF + 1
    zs = np.convolve(np.pad(z, SMOOTH_HALF, mode="edge"), np.ones(k) / k, mode="valid")
    j = max(alarm, first)
    sign = 1.0 if zs[j] >= 0 else -1.0
    alarm = j
    while j > first and sign * zs[j - 1] >= QUIET_Z:
        j -= 1
    while j < alarm and sign * z[j] < QUIET_Z:  # the mean leans early: start at a real sample
        j += 1
    return j


def find_changes(
    times: Int64Array,
    values: FloatArray,
    search_from_ms: int,
    reference: FloatArray | None = None,
    floor_abs: float = 1e-9,
    direction: int = 0,
    floor_rel: float = FLOOR_REL,
) -> list[Change]:
    """The change of every row of `values` (rows x len(times)) after `search_from_ms`.

    With a `reference` (e.g. the same window a day earlier) the change is measured on the
    difference to it, so a daily rhythm is not mistaken for a change; rows or times without
    a reference fall back to the values themselves. `floor_abs` is the smallest meaningful sigma.
    `direction` +1 / -1 looks only for rises / falls (0: both).
    """
    base = times < search_from_ms
    base_cols = int(base.sum())
    med, sigma = baseline(values, base, floor_abs, floor_rel)
    filled = np.where(np.isfinite(values), values, med[:, None])
    z = (filled - med[:, None]) / sigma[:, None]
    if reference is not None:
        # a change must show both against the recent baseline and against the reference:
        # the first alone mistakes a daily rhythm for a change, the second an event of yesterday
        usable = np.isfinite(reference).mean(axis=1) > 0.9
        resid = filled - _fill_nan(np.where(usable[:, None], reference, 0.0))
        rmed, rsig = baseline(resid, base, floor_abs, 0.0)
        rsig = np.maximum(rsig, np.maximum(floor_rel * np.abs(np.nan_to_num(med)), floor_abs))
        zr = (resid - rmed[:, None]) / rsig[:, None]
        z = np.where(usable[:, None] & (np.abs(zr) < np.abs(z)), zr, z)
    z = np.where(np.isfinite(z), z, 0.0)
    if direction:
        z = np.maximum(direction * z, -ONSET_Z)  # moves the other way do not count
    onsets = _cusum_onsets(z, base_cols, "up" if direction else "both")
    tail = np.maximum(z[:, base_cols:], 0.0) if direction else np.abs(z[:, base_cols:])
    out = []
    for i in range(len(values)):
        if tail.shape[1] == 0 or not np.isfinite(med[i]):
            out.append(Change(None, 0.0, float(med[i]), float(med[i]), int(times[-1]), 0.0))
            continue
        order = np.sort(tail[i])
        size = float(order[-2] if len(order) > 1 else order[-1])  # one outlier is not a change
        peak = base_cols + int(np.argmax(tail[i]))
        on = int(onsets[i])
        if size < ONSET_Z:
            on = -1
        else:
            if on < 0:
                on = base_cols + int(np.argmax(tail[i] >= ONSET_Z))
            on = _walk_back(z[i], on, base_cols)
        out.append(
            Change(
                int(times[on]) if on >= 0 else None,
                size,
                float(med[i]),
                float(filled[i, peak]),
                int(times[peak]),
                float(sigma[i]),
            )
        )
    return out
