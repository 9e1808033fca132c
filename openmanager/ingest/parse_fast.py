"""The fast path: a run of plain sample lines split with a few C-level bytes calls, not per line.

For `series value [timestamp]` lines with single spaces (what history files and most scrape
pages are), `(b"\\n" + seg).replace(b"\\n", b" \\n").split(b" ")` yields the three columns as
list slices. The run is accepted only if the token layout provably matches one line per
group; anything else returns None and the exact scanner (`parse_line`) takes the lines.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from openmanager.samples import Float64Array, Int64Array

_OTHER_WHITESPACE = (b"\t", b"\r", b"\x0b", b"\x0c")
_INT_CHARS = b"0123456789- "
_DIGITS = b"0123456789 "
_OM_TS_CHARS = b"0123456789.eE+- "
_INT64_MIN = np.iinfo(np.int64).min
_INT64_MAX = np.iinfo(np.int64).max
_MAX_SECONDS = _INT64_MAX // 1000


@dataclass
class FastRun:
    """Columns of a run of sample lines: raw series texts (each prefixed by a newline), values, ts."""

    keys: list[bytes]
    values: Float64Array
    timestamps_ms: Int64Array | None
    """None when the lines carry no timestamps."""


def split_run(seg: bytes, nlines: int, openmetrics: bool) -> FastRun | None:
    """Columns of `nlines` sample lines joined by newlines, or None if any line needs the scanner."""
    if any(ch in seg for ch in _OTHER_WHITESPACE):
        return None
    toks = (b"\n" + seg).replace(b"\n", b" \n").split(b" ")
    if len(toks) == 3 * nlines + 1:
        stride = 3
    elif len(toks) == 2 * nlines + 1:
        stride = 2
    else:
        return None
    # Every line contributes exactly one newline marker; when none sits in a value or timestamp
    # token, each group of `stride` tokens is exactly one line (a token holds at most one marker).
    val_toks = toks[2::stride]
    joined_vals = b" ".join(val_toks)
    if b"\n" in joined_vals or b"_" in joined_vals:
        return None
    ts: Int64Array | None = None
    if stride == 3:
        ts = _timestamps(toks[3::3], nlines, openmetrics)
        if ts is None:
            return None
    try:
        values = np.fromiter(map(float, val_toks), dtype=np.float64, count=nlines)
    except ValueError:
        return None
    return FastRun(toks[1::stride], values, ts)


def _timestamps(ts_toks: list[bytes], n: int, openmetrics: bool) -> Int64Array | None:
    """Milliseconds from timestamp tokens: integer ms (text) or seconds (OpenMetrics)."""
    joined = b" ".join(ts_toks)
    if b"\n" in joined or b"  " in joined or joined.endswith(b" ") or joined.startswith(b" "):
        return None
    if openmetrics and not joined.translate(None, _DIGITS):
        secs = _ints(joined, n)
        if secs is None or int(secs.max(initial=0)) > _MAX_SECONDS:
            return None
        return secs * 1000
    if openmetrics:
        if joined.translate(None, _OM_TS_CHARS):
            return None
        try:
            seconds = np.fromiter(map(float, ts_toks), dtype=np.float64, count=n)
        except ValueError:
            return None
        if not np.isfinite(seconds).all() or np.abs(seconds).max(initial=0.0) >= _MAX_SECONDS:
            return None
        return np.rint(seconds * 1000).astype(np.int64)
    if joined.translate(None, _INT_CHARS):
        return None
    return _ints(joined, n)


def _ints(joined: bytes, n: int) -> Int64Array | None:
    """Space-separated integers parsed in C; None on anything odd (count, overflow clamping)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            out = np.fromstring(joined, dtype=np.int64, sep=" ")
        except (ValueError, DeprecationWarning):
            return None
    arr: Int64Array = np.asarray(out, dtype=np.int64)
    if len(arr) != n or (arr == _INT64_MAX).any() or (arr == _INT64_MIN).any():
        return None
    return arr
