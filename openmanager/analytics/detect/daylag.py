"""Day-lag novelty: how far the smoothed value departs from its value one day earlier, beyond the
range such departures have spanned so far (in units of the series' range).

The lag is one day in samples (from the EW sampling interval), capped at ``cap`` samples of
history; vectorised across series.
"""

from __future__ import annotations

import numpy as np

from openmanager.analytics.detect.base import BoolArray, Detector, FloatArray

DAY = 86400.0


def init_daylag_state(det: Detector, cap: int) -> None:
    """State arrays of the day-lag memory (prefixed ``dl_``)."""
    det._zeros("dl_smooth", fill=np.nan)
    det._zeros("dl_hist", cap, fill=np.nan)
    det._zeros("dl_count", dtype=np.int64)
    det._zeros("dl_dt", fill=np.nan)
    det._zeros("dl_prev_t", fill=np.nan)
    det._zeros("dl_hi", fill=-np.inf)
    det._zeros("dl_lo", fill=np.inf)


def daylag_strength(
    det: Detector,
    x: FloatArray,
    t: FloatArray,
    ok: BoolArray,
    scale: FloatArray,
    smooth: int,
    forget: float,
) -> FloatArray:
    """Excess of (smoothed x - smoothed x a day ago) over its past range, in units of ``scale``."""
    s = det.state
    sm = s["dl_smooth"]
    a = 2.0 / (smooth + 1.0)
    sm = np.where(ok, np.where(np.isnan(sm), x, sm + a * (x - sm)), sm)
    s["dl_smooth"] = sm
    gap = t - s["dl_prev_t"]
    dt = s["dl_dt"]
    good = ok & np.isfinite(gap) & (gap > 0)
    dt = np.where(good, np.where(np.isnan(dt), gap, dt + 0.01 * (gap - dt)), dt)
    s["dl_dt"], s["dl_prev_t"] = dt, np.where(ok, t, s["dl_prev_t"])
    hist, count = s["dl_hist"], s["dl_count"]
    cap = hist.shape[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        lag = np.where(np.isfinite(dt) & (dt > 0), np.rint(DAY / dt), cap + 1)
    lag = np.clip(lag, 1, cap + 1).astype(np.int64)
    rows = np.arange(len(x))
    usable = ok & (lag <= cap) & (count >= lag)
    past = hist[rows, (count - np.minimum(lag, cap)) % cap]
    d = np.where(usable, sm - past, np.nan)
    hi, lo = s["dl_hi"], s["dl_lo"]
    with np.errstate(invalid="ignore"):
        span = np.maximum(hi - lo, 0.0)
        unit = np.maximum(span, 0.05 * scale)
        out = np.maximum(np.maximum(d - hi, lo - d), 0.0) / unit
    out = np.where(np.isfinite(out), out, 0.0)
    has = np.isfinite(d)
    hi = np.where(has, np.maximum(hi, d), hi)
    lo = np.where(has, np.minimum(lo, d), lo)
    with np.errstate(invalid="ignore"):
        shrink = np.where(np.isfinite(hi - lo), (hi - lo) * forget, 0.0)
    s["dl_hi"], s["dl_lo"] = hi - shrink, lo + shrink
    live = np.flatnonzero(ok)
    hist[live, count[live] % cap] = sm[live]
    s["dl_count"] = count + ok
    return np.asarray(out)
