"""Exact decimal form of float64 values: v == m * 10**e with integer m, as VictoriaMetrics does.

A chunk gets one exponent; values that do not round-trip bit-identically at that exponent
(NaN, the stale marker, +/-Inf, -0.0, or a stray value with more digits) become exceptions
that are stored verbatim, while the others are coded as integers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from openmanager.tsdb.codec._io import I64

F64 = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]

MAX_DECIMALS = 20
"""Most digits after the point tried; 10**k is exact in float64 up to k = 22."""
_LIMIT = 2.0**53
"""Largest |mantissa|: int64 <-> float64 stays exact, and more digits would not beat raw bits."""
_SAMPLE = 64
_FAST_DECIMALS = 4
_EXCEPTION_BYTES = 10.0
_DIGIT_BYTES = np.log2(10.0) / 8.0
_NEVER = MAX_DECIMALS + 1


@dataclass(frozen=True)
class DecimalForm:
    """`values[~exceptions] == from_decimal(mantissas, exponent)[~exceptions]`, bit for bit."""

    mantissas: I64
    exponent: int
    exceptions: Mask


def from_decimal(mantissas: I64, exponent: int) -> F64:
    """The float64 values m * 10**exponent, computed exactly as the encoder verified them."""
    if exponent >= 0:
        return (mantissas * np.int64(10**exponent)).astype(np.float64)
    return mantissas.astype(np.float64) / 10.0 ** (-exponent)


def _exact_at(values: F64, k: int) -> tuple[I64, Mask]:
    """Mantissas at k decimals, and which values they reproduce bit for bit.

    The check runs the decoder's own arithmetic (int64 -> float64, then / 10**k), so a value
    passes only if `from_decimal` gives back its exact bits (-0.0 never does).
    """
    scale = 10.0**k
    with np.errstate(invalid="ignore", over="ignore"):  # signalling NaNs, huge values
        scaled = values * scale
        in_range = np.abs(scaled) < _LIMIT
    m = np.where(in_range, np.rint(scaled), 0.0).astype(np.int64)
    back = from_decimal(m, -k)
    return m, in_range & (back.view(np.uint64) == values.view(np.uint64))


def _decimals_needed(values: F64) -> npt.NDArray[np.int8]:
    """Per value, the fewest digits after the point that reproduce it exactly (or `_NEVER`)."""
    need = np.full(len(values), _NEVER, dtype=np.int8)
    todo = np.flatnonzero(np.isfinite(values))
    for k in range(MAX_DECIMALS + 1):
        if len(todo) == 0:
            break
        _, exact = _exact_at(values[todo], k)
        need[todo[exact]] = k
        todo = todo[~exact]
    return need


def to_decimal(values: F64) -> DecimalForm | None:
    """Decimal form with the cheapest exponent, or None when most values are not decimal."""
    n = len(values)
    if n == 0:
        return None
    found = _all_finite_exact(values)
    if found is None:
        found = _cheapest_exponent(values)
    if found is None:
        return None
    k, m, ok = found
    m[~ok] = 0
    exponent = -k
    if k == 0:
        m, exponent = _strip_trailing_zeros(m, ok)
    return DecimalForm(_fill_gaps(m, ok), exponent, ~ok)


def _all_finite_exact(values: F64) -> tuple[int, I64, Mask] | None:
    """The common case, in a few passes: every finite value exact with <= 4 decimals.

    Returns the cheapest exponent up to that point (a few odd values with more digits are
    cheaper as exceptions than one more digit on every value).
    """
    finite = int(np.count_nonzero(np.isfinite(values)))
    if finite * 2 <= len(values):
        return None
    tried: list[tuple[float, int, I64, Mask]] = []
    for k in range(_FAST_DECIMALS + 1):
        m, ok = _exact_at(values, k)
        exact = int(np.count_nonzero(ok))
        cost = len(values) * _DIGIT_BYTES * k + _EXCEPTION_BYTES * (finite - exact)
        tried.append((cost, k, m, ok))
        if exact == finite:
            _, best_k, best_m, best_ok = min(tried, key=lambda t: t[0])
            return best_k, best_m, best_ok
    return None


def _cheapest_exponent(values: F64) -> tuple[int, I64, Mask] | None:
    """Per-value digit counts, then the exponent that minimises digits plus exceptions."""
    n = len(values)
    if n > 2 * _SAMPLE:  # bail out early on floats that are not decimal at all
        sample = values[:: n // _SAMPLE]
        if np.count_nonzero(_decimals_needed(sample) == _NEVER) * 2 > len(sample):
            return None
    need = _decimals_needed(values)
    counts = np.bincount(need, minlength=_NEVER + 1)[: _NEVER + 1]
    exceptions_at = n - np.cumsum(counts[:_NEVER])  # inexact values with k decimals
    cost = n * _DIGIT_BYTES * np.arange(_NEVER) + _EXCEPTION_BYTES * exceptions_at
    k = int(np.argmin(cost))
    if exceptions_at[k] * 2 > n:
        return None
    # Checked again at k itself: with many digits, exact at fewer decimals need not imply k.
    m, ok = _exact_at(values, k)
    return k, m, ok


def _strip_trailing_zeros(m: I64, ok: Mask) -> tuple[I64, int]:
    """Integers that all end in zeros (e.g. 1500, 2300) become 15, 23 with exponent 2."""
    valid = m[ok]
    if not np.any(valid):
        return m, 0
    zeros = 0
    while zeros < 18 and not np.any(valid % np.int64(10 ** (zeros + 1))):
        zeros += 1
    return m // np.int64(10**zeros), zeros


def _fill_gaps(m: I64, ok: Mask) -> I64:
    """Give each exception the previous good mantissa so it costs nothing in the delta code."""
    if bool(ok.all()):
        return m
    idx = np.where(ok, np.arange(len(m)), -1)
    np.maximum.accumulate(idx, out=idx)
    first = int(np.argmax(ok)) if bool(ok.any()) else 0
    idx[idx < 0] = first
    return m[idx]
