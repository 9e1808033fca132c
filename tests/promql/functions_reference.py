"""Sample-by-sample Python ports of Prometheus's `promql/functions.go` range functions, the
oracle the vectorised library is checked against (one window of (timestamps, values) at a time).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

Window = tuple[Sequence[int], Sequence[float]]
RefFn = Callable[[Window, int, int, int], float | None]
"""(window samples, eval time ms, window end ms, range ms) -> value or None (no output)."""


def kahan_inc(inc: float, total: float, c: float) -> tuple[float, float]:
    t = total + inc
    if math.isinf(t):
        c = 0.0
    elif abs(total) >= abs(inc):
        c += (total - t) + inc
    else:
        c += (inc - t) + total
    return t, c


def extrapolated(is_counter: bool, is_rate: bool) -> RefFn:
    def fn(w: Window, ts: int, end: int, rng: int) -> float | None:
        t, v = w
        if len(v) < 2:
            return None
        start = end - rng
        result = v[-1] - v[0]
        if is_counter:
            for i in range(1, len(v)):
                if v[i] < v[i - 1]:
                    result += v[i - 1]
        to_start = (t[0] - start) / 1000
        to_end = (end - t[-1]) / 1000
        sampled = (t[-1] - t[0]) / 1000
        avg = sampled / (len(v) - 1)
        threshold = avg * 1.1
        if to_start >= threshold:
            to_start = avg / 2
        if is_counter:
            to_zero = to_start
            if result > 0 and v[0] >= 0:
                to_zero = sampled * (v[0] / result)
            if to_zero < to_start:
                to_start = to_zero
        if to_end >= threshold:
            to_end = avg / 2
        factor = (sampled + to_start + to_end) / sampled
        if is_rate:
            factor /= rng / 1000
        return result * factor

    return fn


def instant_value(is_rate: bool) -> RefFn:
    def fn(w: Window, ts: int, end: int, rng: int) -> float | None:
        t, v = w
        if len(v) < 2:
            return None
        dt = t[-1] - t[-2]
        res = v[-1]
        if not is_rate or not v[-1] < v[-2]:
            res = v[-1] - v[-2]
        if is_rate:
            res /= dt / 1000
        return res

    return fn


def linear_regression(t: Sequence[int], v: Sequence[float], origin: int) -> tuple[float, float]:
    n = sx = cx = sy = cy = sxy = cxy = sx2 = cx2 = 0.0
    const_y = True
    for i, (ti, vi) in enumerate(zip(t, v, strict=True)):
        if const_y and i > 0 and vi != v[0]:
            const_y = False
        n += 1
        x = (ti - origin) / 1e3
        sx, cx = kahan_inc(x, sx, cx)
        sy, cy = kahan_inc(vi, sy, cy)
        sxy, cxy = kahan_inc(x * vi, sxy, cxy)
        sx2, cx2 = kahan_inc(x * x, sx2, cx2)
    if const_y:
        return (math.nan, math.nan) if math.isinf(v[0]) else (0.0, v[0])
    sx, sy, sxy, sx2 = sx + cx, sy + cy, sxy + cxy, sx2 + cx2
    cov = sxy - sx * sy / n
    var = sx2 - sx * sx / n
    slope = cov / var if var != 0 else math.copysign(math.inf, cov) if cov else math.nan
    return slope, sy / n - slope * sx / n


def deriv(w: Window, ts: int, end: int, rng: int) -> float | None:
    t, v = w
    return None if len(v) < 2 else linear_regression(t, v, t[0])[0]


def predict_linear(horizon: float) -> RefFn:
    def fn(w: Window, ts: int, end: int, rng: int) -> float | None:
        t, v = w
        if len(v) < 2:
            return None
        slope, icpt = linear_regression(t, v, ts)
        return slope * horizon + icpt

    return fn


def resets(w: Window, ts: int, end: int, rng: int) -> float | None:
    v = w[1]
    return None if not v else float(sum(v[i] < v[i - 1] for i in range(1, len(v))))


def changes(w: Window, ts: int, end: int, rng: int) -> float | None:
    v = w[1]
    if not v:
        return None
    return float(
        sum(
            v[i] != v[i - 1] and not (math.isnan(v[i]) and math.isnan(v[i - 1]))
            for i in range(1, len(v))
        )
    )


def sum_over_time(w: Window, ts: int, end: int, rng: int) -> float | None:
    if not w[1]:
        return None
    s = c = 0.0
    for f in w[1]:
        s, c = kahan_inc(f, s, c)
    return s if math.isinf(s) else s + c


def avg_over_time(w: Window, ts: int, end: int, rng: int) -> float | None:
    v = w[1]
    if not v:
        return None
    total, count, mean, c, incremental = v[0], 1.0, 0.0, 0.0, False
    for i, f in enumerate(v[1:]):
        count = float(i + 2)
        if not incremental:
            ns, nc = kahan_inc(f, total, c)
            if not math.isinf(ns):
                total, c = ns, nc
                continue
            incremental = True
            mean = total / (count - 1)
            c /= count - 1
        q = (count - 1) / count
        mean, c = kahan_inc(f / count, q * mean, q * c)
    return mean + c if incremental else total / count + c / count


def compare_over_time(better: Callable[[float, float], bool]) -> RefFn:
    def fn(w: Window, ts: int, end: int, rng: int) -> float | None:
        v = w[1]
        if not v:
            return None
        best = v[0]
        for f in v:
            if better(f, best) or math.isnan(best):
                best = f
        return best

    return fn


def variance(sqrt: bool) -> RefFn:
    def fn(w: Window, ts: int, end: int, rng: int) -> float | None:
        if not w[1]:
            return None
        count = mean = cm = aux = ca = 0.0
        for f in w[1]:
            count += 1
            delta = f - (mean + cm)
            mean, cm = kahan_inc(delta / count, mean, cm)
            aux, ca = kahan_inc(delta * (f - (mean + cm)), aux, ca)
        var = (aux + ca) / count
        return math.sqrt(var) if sqrt else var

    return fn


def quantile(q: float, values: Sequence[float]) -> float:
    if not values or math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    ordered = sorted(values, key=lambda x: (not math.isnan(x), 0.0 if math.isnan(x) else x))
    n = len(ordered)
    rank = q * (n - 1)
    lower = max(0, math.floor(rank))
    upper = min(n - 1, lower + 1)
    weight = rank - math.floor(rank)
    return ordered[lower] * (1 - weight) + ordered[upper] * weight


def quantile_over_time(q: float) -> RefFn:
    def fn(w: Window, ts: int, end: int, rng: int) -> float | None:
        return quantile(q, w[1]) if w[1] else None

    return fn


def mad_over_time(w: Window, ts: int, end: int, rng: int) -> float | None:
    v = w[1]
    if not v:
        return None
    median = quantile(0.5, v)
    return quantile(0.5, [abs(x - median) for x in v])


def last_over_time(w: Window, ts: int, end: int, rng: int) -> float | None:
    return w[1][-1] if w[1] else None


def count_over_time(w: Window, ts: int, end: int, rng: int) -> float | None:
    return float(len(w[1])) if w[1] else None
