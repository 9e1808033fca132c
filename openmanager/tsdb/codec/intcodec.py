"""Lossless coding of an int64 sequence (timestamps, decimal mantissas, positions).

Prediction: residuals of order 0 (the values), 1 (deltas) or 2 (delta-of-delta), chosen per
sequence by a cheap size estimate, optionally minus a piecewise-linear trend (knots every 128
residuals, themselves coded recursively) that takes the daily swing out of counter increments.
The zigzagged residuals go to `split`. All arithmetic wraps modulo 2**64, so any int64 input
(sorted or not) round-trips exactly; a perfectly regular sequence costs only its header.
"""

from __future__ import annotations

import numpy as np

from openmanager.errors import InvalidInput
from openmanager.tsdb.codec._io import I64, ByteReader, unzigzag, write_varint, zigzag, zigzag_int
from openmanager.tsdb.codec.blocks import block_counts, block_sums, estimate_bits
from openmanager.tsdb.codec.entropy import DEFAULT_LEVEL
from openmanager.tsdb.codec.split import read_residuals, write_residuals

TREND_LOG2 = 7
"""Residuals between two trend knots (2**7 = 128, half an hour of 15 s samples)."""

_ORDER_MASK = 0x03
_TREND = 0x04
_ALL_ZERO = 0x08
_KNOT_COST_BITS = 2.0
_MIN_TREND = 3 << TREND_LOG2
"""Shorter sequences have too few knots for a trend to pay for itself."""


def _integrate(heads: list[int], r: I64) -> I64:
    """Inverse of taking len(heads) differences: `heads` are x0 (and x1 - x0 for order 2)."""
    for head in reversed(heads):
        x = np.empty(len(r) + 1, dtype=np.int64)
        x[0] = head
        x[1:] = r
        r = np.cumsum(x, out=x)
    return r


def _knots(r: I64, log2: int) -> I64:
    """Trend knots at every 2**log2-th residual and one past the end, from block means."""
    block = 1 << log2
    means = block_sums(r.astype(np.float64), block) / block_counts(len(r), block)
    c = np.minimum(np.maximum(np.rint(means), -(2.0**62)), 2.0**62).astype(np.int64)
    mid = (c[:-1] >> np.int64(1)) + (c[1:] >> np.int64(1)) + (c[:-1] & c[1:] & np.int64(1))
    return np.concatenate([c[:1], mid, c[-1:]])


def _trend(knots: I64, log2: int, m: int) -> I64:
    """Piecewise-linear trend through the knots, in exact (wrapping) integer arithmetic."""
    j = np.arange(m, dtype=np.int64)
    k = j >> np.int64(log2)
    lo = knots[k]
    step = (knots[k + 1] - lo) * (j & np.int64((1 << log2) - 1))
    trend: I64 = lo + (step >> np.int64(log2))
    return trend


def _diff(x: I64) -> I64:
    """Wrapping first difference (np.diff without its per-call overhead)."""
    d: I64 = x[1:] - x[:-1]
    return d


def _plan(x: I64, allow_trend: bool) -> tuple[int, I64 | None, I64]:
    """Pick prediction order and trend by the smallest estimated size.

    Returns the order, the trend knots (None: no trend) and the residuals left to code.
    """
    residuals = [x, _diff(x)]
    residuals.append(_diff(residuals[1]))
    for order in (1, 2, 0):  # an all-zero residual (constant, perfectly regular) needs no plan
        if not residuals[order].any():
            return order, None, residuals[order]
    plain = [estimate_bits(zigzag(r)) for r in residuals]
    order = int(np.argmin(plain))
    best: tuple[float, int, I64 | None, I64] = (plain[order], order, None, residuals[order])
    if not allow_trend or len(x) < _MIN_TREND:
        return order, None, residuals[order]
    for order in (0, 1):  # after delta-of-delta no drift is left to remove
        r = residuals[order]
        knots = _knots(r, TREND_LOG2)
        e = r - _trend(knots, TREND_LOG2, len(r))
        knot_bits = _KNOT_COST_BITS + np.log2(1.0 + float(np.mean(zigzag(_diff(knots)))))
        cost = estimate_bits(zigzag(e)) + len(knots) * knot_bits
        if cost < best[0]:
            best = (cost, order, knots, e)
    return best[1], best[2], best[3]


def encode_ints(
    x: I64, out: bytearray, *, level: int = DEFAULT_LEVEL, allow_trend: bool = True
) -> None:
    """Append the coded form of `x` (its length is known to the reader) to `out`."""
    n = len(x)
    if n == 0:
        return
    order, knots, r = _plan(x, allow_trend) if n > 2 else (n, None, x[:0])
    heads = [int(x[0])] if order else []
    if order == 2:
        heads.append(_wrap(int(x[1]) - int(x[0])))
    all_zero = not r.any()
    out.append(order | (_ALL_ZERO if all_zero else 0) | (_TREND if knots is not None else 0))
    for head in heads:
        write_varint(out, zigzag_int(head))
    if all_zero:
        return
    if knots is not None:
        sub = bytearray()
        encode_ints(knots, sub, level=level, allow_trend=False)
        write_varint(out, len(sub))
        out += sub
    write_residuals(zigzag(r), out, level)


def decode_ints(reader: ByteReader, n: int) -> I64:
    """Read `n` int64 values written by `encode_ints`."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    flags = reader.u8()
    order = flags & _ORDER_MASK
    if order > 2 or order > n or flags >> 4:
        raise InvalidInput("corrupted chunk: bad integer stream header")
    heads = [reader.signed() for _ in range(order)]
    m = n - order
    if flags & _ALL_ZERO or m == 0:
        if order == 2:  # a regular sequence: x0 + i * step, wrapping like the cumsum would
            steps = np.arange(n, dtype=np.int64) * np.int64(heads[1])
            return steps + np.int64(heads[0])
        return _integrate(heads, np.zeros(m, dtype=np.int64))
    knots: I64 | None = None
    if flags & _TREND:
        knots = decode_ints(ByteReader(reader.block()), -(-m >> TREND_LOG2) + 1)
    r = unzigzag(read_residuals(reader, m))
    if knots is not None:
        r = r + _trend(knots, TREND_LOG2, m)
    return _integrate(heads, r)


def _wrap(value: int) -> int:
    """A Python int reduced to the int64 range (two's complement), as NumPy wraps it."""
    return (value + (1 << 63)) % (1 << 64) - (1 << 63)
