"""Vectorised protobuf wire-format helpers: varints and record scans over many messages at once.

The remote-write fast path decodes thousands of tiny messages (labels, samples) per request;
these functions advance one "frontier" position per message with NumPy, so the Python cost
is per field of the longest message, not per sample.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

U8Array = npt.NDArray[np.uint8]
I64Array = npt.NDArray[np.int64]
U64Array = npt.NDArray[np.uint64]
BoolArray = npt.NDArray[np.bool_]

TAG_LABEL = 0x0A  # field 1, wire type 2 (TimeSeries.labels)
TAG_VALUE = 0x09  # field 1, wire type 1 (Sample.value, double)
TAG_TIMESTAMP = 0x10  # field 2, wire type 0 (Sample.timestamp, int64 varint)
_MAX_VARINT = 10
_SHIFTS = (np.arange(_MAX_VARINT, dtype=np.uint64) * np.uint64(7)).astype(np.uint64)


def read_varints(
    buf: U8Array, pos: I64Array, end: I64Array
) -> tuple[U64Array, I64Array, BoolArray]:
    """Decode one varint at each `pos` (not reaching `end`): values, byte lengths, ok flags."""
    n = len(pos)
    values = np.zeros(n, dtype=np.uint64)
    length = np.zeros(n, dtype=np.int64)
    ok = np.zeros(n, dtype=np.bool_)
    live = np.arange(n, dtype=np.int64)
    limit = len(buf)
    for k in range(_MAX_VARINT):  # byte k of every varint still open: one pass per byte
        at = pos[live] + k
        inside = at < np.minimum(end[live], limit)
        live, at = live[inside], at[inside]
        if not len(live):
            break
        b = buf[at]
        values[live] |= (b & 0x7F).astype(np.uint64) << _SHIFTS[k]
        done = b < 0x80
        length[live[done]] = k + 1
        ok[live[done]] = True
        live = live[~done]
    return values, length, ok


def varint_sizes(values: I64Array) -> I64Array:
    """Bytes needed to encode each non-negative int as a varint."""
    v = values.astype(np.uint64)
    size = np.ones(len(v), dtype=np.int64)
    for k in range(1, _MAX_VARINT):
        size += v >= (np.uint64(1) << np.uint64(7 * k))
    return size


def encode_varints(values: I64Array) -> tuple[U8Array, I64Array]:
    """Varint bytes of each int64 (negatives as 10-byte two's complement): (n, 10) rows and sizes."""
    v = values.astype(np.int64).view(np.uint64)
    sizes = varint_sizes(v.view(np.int64)) if len(v) else np.zeros(0, np.int64)
    sizes = np.where(values < 0, _MAX_VARINT, sizes)
    groups = ((v[:, None] >> _SHIFTS[None, :]) & np.uint64(0x7F)).astype(np.uint8)
    cont = np.arange(_MAX_VARINT, dtype=np.int64)[None, :] < (sizes[:, None] - 1)
    return groups | np.where(cont, np.uint8(0x80), np.uint8(0)), sizes


def scan_label_prefix(buf: U8Array, starts: I64Array, ends: I64Array) -> tuple[I64Array, bool]:
    """Where the leading run of `labels` records of each TimeSeries ends; False if malformed."""
    pos = starts.copy()
    live = np.flatnonzero(pos < ends)
    while len(live):
        p = pos[live]
        is_label = buf[p] == TAG_LABEL
        live, p = live[is_label], p[is_label]
        if not len(live):
            break
        e = ends[live]
        length, size, ok = read_varints(buf, p + 1, e)
        nxt = p + 1 + size + length.astype(np.int64)
        if not ok.all() or (length > np.uint64(1 << 40)).any() or (nxt > e).any():
            return pos, False
        pos[live] = nxt
        live = live[nxt < e]
    return pos, True


def decode_samples(
    buf: U8Array, starts: I64Array, ends: I64Array
) -> tuple[I64Array, npt.NDArray[np.float64], bool]:
    """Decode Sample messages at [starts, ends): timestamps, values; False on unexpected fields."""
    n = len(starts)
    stamps = np.zeros(n, dtype=np.uint64)
    values = np.zeros(n, dtype=np.uint64)
    pos = starts.copy()
    live = np.flatnonzero(pos < ends)
    while len(live):
        p, e = pos[live], ends[live]
        tag = buf[p]
        is_val = tag == TAG_VALUE
        is_ts = tag == TAG_TIMESTAMP
        if not (is_val | is_ts).all():
            return stamps.view(np.int64), values.view(np.float64), False
        nxt = np.empty(len(p), dtype=np.int64)
        if is_val.any():
            vp = p[is_val]
            nxt[is_val] = vp + 9
            if (vp + 9 > e[is_val]).any():
                return stamps.view(np.int64), values.view(np.float64), False
            raw = buf[(vp + 1)[:, None] + np.arange(8, dtype=np.int64)]
            values[live[is_val]] = np.ascontiguousarray(raw).view("<u8").ravel()
        if is_ts.any():
            tp = p[is_ts]
            v, size, ok = read_varints(buf, tp + 1, e[is_ts])
            if not ok.all():
                return stamps.view(np.int64), values.view(np.float64), False
            stamps[live[is_ts]] = v
            nxt[is_ts] = tp + 1 + size
        pos[live] = nxt
        live = live[nxt < e]
    return stamps.view(np.int64), values.view(np.float64), True
