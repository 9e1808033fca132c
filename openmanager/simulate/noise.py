"""Stateless, counter-based randomness: every value is a pure function of (seed, stream, server, time).

Pure functions of time make the simulator's output independent of how a range is chunked.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = (np.uint64(s) for s in (30, 27, 31, 11))
DAY_MS = 86_400_000
HOUR_MS = 3_600_000


def mix64(x: U64) -> U64:
    """splitmix64's finaliser: a bijective, well-mixed hash of 64-bit integers (arrays only)."""
    x = x ^ (x >> _S30)
    x = x * _M1
    x = x ^ (x >> _S27)
    x = x * _M2
    return x ^ (x >> _S31)


def _base(seed: int, stream: int) -> int:
    return ((seed & _MASK) * _GOLDEN + (stream + 1) * 0xD1B54A32D192ED03) & _MASK


def hash_grid(seed: int, stream: int, servers: I64, ticks: I64) -> U64:
    """A [len(servers), len(ticks)] grid of independent 64-bit hashes."""
    s = mix64(
        np.asarray(servers, dtype=np.int64).astype(np.uint64) ^ np.uint64(_base(seed, stream))
    )
    t = np.asarray(ticks, dtype=np.int64).astype(np.uint64)
    return mix64(s[:, None] ^ mix64(t + np.uint64(_GOLDEN))[None, :])


def uniform(seed: int, stream: int, servers: I64, ticks: I64) -> F64:
    """Uniform [0, 1) per (server, tick)."""
    h = hash_grid(seed, stream, servers, ticks)
    return (h >> _S11).astype(np.float64) * (1.0 / (1 << 53))


def normal(seed: int, stream: int, servers: I64, ticks: I64) -> F64:
    """Standard normal per (server, tick), by Box-Muller over two hashed uniforms."""
    u1 = uniform(seed, stream, servers, ticks)
    u2 = uniform(seed, stream + 7919, servers, ticks)
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * math.pi * u2)


def per_server(seed: int, stream: int, servers: I64) -> F64:
    """One uniform [0, 1) per server (parameters that never change)."""
    return uniform(seed, stream, servers, np.zeros(1, dtype=np.int64))[:, 0]


def smooth(seed: int, stream: int, servers: I64, t_ms: I64, period_ms: int) -> F64:
    """Smooth noise (std ~0.8): normal values at multiples of `period_ms`, cosine-interpolated."""
    t = np.asarray(t_ms, dtype=np.int64)
    k = t // period_ms
    frac = (t - k * period_ms).astype(np.float64) / period_ms
    knots = np.arange(int(k.min()), int(k.max()) + 2, dtype=np.int64) if len(t) else k
    kv = normal(seed, stream, servers, knots)
    i = k - (knots[0] if len(knots) else 0)
    a, b = kv[:, i], kv[:, i + 1]
    w = 0.5 - 0.5 * np.cos(math.pi * frac)
    out: F64 = a + (b - a) * w[None, :]
    return out


def norm_cdf(x: F64) -> F64:
    """Standard normal CDF, vectorised (Abramowitz-Stegun 7.1.26, error < 1.5e-7)."""
    z = np.abs(x) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    erf = 1.0 - poly * np.exp(-z * z)
    out: F64 = 0.5 * (1.0 + np.sign(x) * erf)
    return out


def seasonal(t_ms: I64, tz_ms: I64, phase_h: F64, weekend: F64) -> F64:
    """Daily load shape in [0, 1] (peak 12 h after the trough) damped at weekends; [servers, time]."""
    local = np.asarray(t_ms, dtype=np.int64)[None, :] + tz_ms[:, None]
    hour = (local % DAY_MS).astype(np.float64) / HOUR_MS
    daily = 0.5 - 0.5 * np.cos(2.0 * math.pi * (hour - phase_h[:, None]) / 24.0)
    dow = (local // DAY_MS + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    week = np.where(dow >= 5, weekend[:, None], 1.0)
    out: F64 = daily * week
    return out
