"""Pattern memory: distance of the recent shape of each series to its nearest past shape.

A shape is ``length`` smoothed values ``step`` samples apart, in units of the series' range. Shapes
enter a ring of ``slots`` per series ``lag`` strides after they were taken (so a window is never
compared with itself shifted by a few samples). Vectorised across series; one nearest-neighbour
search per ``step`` samples of a series.
"""

from __future__ import annotations

import numpy as np

from openmanager.analytics.detect.base import BoolArray, Detector, FloatArray

LAG = 2  # strides a shape waits before it can be matched (overlapping windows look alike)


def init_pattern_state(det: Detector, step: int, length: int, slots: int) -> None:
    """State arrays of the pattern memory (prefixed ``pm_``)."""
    hist = step * (length - 1) + 1
    det._zeros("pm_smooth", fill=np.nan)
    det._zeros("pm_hist", hist)
    det._zeros("pm_count", dtype=np.int64)
    det._zeros("pm_mem", slots, length, dtype=np.float32)  # float32: the search is the hot spot
    det._zeros("pm_memsq", slots, fill=np.inf, dtype=np.float32)
    det._zeros("pm_pending", LAG + 1, length)
    det._zeros("pm_dist")


def pattern_distance(
    det: Detector, x: FloatArray, ok: BoolArray, scale: FloatArray, step: int, length: int
) -> FloatArray:
    """RMS distance (range units) of the latest shape to the nearest remembered one; absorb x."""
    s = det.state
    sm = s["pm_smooth"]
    a = 2.0 / (step + 1.0)
    moved = sm + a * (x - sm)
    sm = np.where(ok, np.where(np.isnan(sm), x, moved), sm)
    s["pm_smooth"] = sm
    hist, count = s["pm_hist"], s["pm_count"]
    size = hist.shape[1]
    if ok.all() and (count == count[0]).all():  # aligned series: one column
        hist[:, int(count[0]) % size] = sm
    else:
        rows = np.flatnonzero(ok)
        hist[rows, count[rows] % size] = sm[rows]
    count += ok
    due = np.flatnonzero(ok & (count >= size) & (count % step == 0))
    if len(due) == 0:
        return np.asarray(s["pm_dist"])
    lags = np.arange(length) * step
    pos = (count[due, None] - 1 - lags[None, :]) % size
    unit = np.where(np.isfinite(scale[due]) & (scale[due] > 0), scale[due], 1.0)
    f = hist[due[:, None], pos] / unit[:, None]
    everyone = len(due) == det.n_series  # aligned series: views, no copies
    mem = s["pm_mem"] if everyone else s["pm_mem"][due]
    memsq = s["pm_memsq"] if everyone else s["pm_memsq"][due]
    f32 = f.astype(np.float32)
    d2 = np.matmul(mem, f32[:, :, None])[..., 0]  # |m - f|^2 = |m|^2 - 2 m.f + |f|^2, in place
    d2 *= -2.0
    d2 += memsq
    d2 = d2.min(axis=1) + np.einsum("nw,nw->n", f, f)
    near = np.sqrt(np.maximum(d2, 0.0) / length)
    dist = s["pm_dist"]
    dist[due] = np.where(np.isfinite(near) & np.isfinite(scale[due]), near, 0.0)
    _remember(det, due, f, count[due] // step)
    return np.asarray(dist)


def _remember(det: Detector, rows: np.ndarray, f: FloatArray, stride: np.ndarray) -> None:
    """Queue the new shapes; the ones taken LAG strides ago enter the ring."""
    s = det.state
    pend = s["pm_pending"]
    pend[rows, stride % (LAG + 1)] = f
    old = stride - LAG
    ready = old >= 1
    r, o = rows[ready], old[ready]
    if len(r) == 0:
        return
    shape = pend[r, o % (LAG + 1)]
    slots = s["pm_mem"].shape[1]
    s["pm_mem"][r, o % slots] = shape
    s["pm_memsq"][r, o % slots] = np.einsum("nw,nw->n", shape, shape)
