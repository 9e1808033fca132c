"""Compiled one-pass scan of a remote-write `WriteRequest`: every sample and label region at once.

Prometheus sends thousands of tiny TimeSeries per request; walking them with NumPy costs a
dozen passes and a Python object per TimeSeries. This kernel (Numba, compiled once and cached
on disk) walks the protobuf wire format once, bounds-checking every length, and returns for
each TimeSeries with samples the byte range of its `labels` records and a 64-bit hash of
them, and for each sample its owner, timestamp and value, and where each `metadata` record lies. Anything
else (exemplars, histograms, labels after samples, unknown fields, malformed bytes) makes it
give up; the caller then falls back to the general decoder, which also names what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt

from openmanager.ingest.proto.wire import I64Array, U8Array

U64Array = npt.NDArray[np.uint64]
F64Array = npt.NDArray[np.float64]

_TAG_TIMESERIES = 0x0A  # WriteRequest.timeseries
_TAG_METADATA = 0x1A  # WriteRequest.metadata
_TAG_LABELS = 0x0A  # TimeSeries.labels
_TAG_SAMPLES = 0x12  # TimeSeries.samples
_TAG_VALUE = 0x09  # Sample.value (fixed64)
_TAG_TIMESTAMP = 0x10  # Sample.timestamp (varint)


@dataclass(frozen=True)
class Scan:
    """A scanned request: per TimeSeries with samples, its label bytes; per sample, its row."""

    region_start: I64Array
    region_end: I64Array
    region_hash: U64Array
    owner: I64Array
    """Index of each sample's TimeSeries in the region arrays."""
    stamps: I64Array
    values: F64Array
    metadata: list[tuple[int, int]]
    """Byte ranges of the `metadata` records."""


def scan_write_request(raw: bytes) -> Scan | None:
    """Scan uncompressed `WriteRequest` bytes; None if they hold anything but labels and samples."""
    buf = np.frombuffer(raw, dtype=np.uint8)
    cap = len(buf) // 2 + 1  # every TimeSeries and every Sample takes at least two bytes
    lo = np.empty(cap, dtype=np.int64)
    hi = np.empty(cap, dtype=np.int64)
    hashes = np.empty(cap, dtype=np.uint64)
    owner = np.empty(cap, dtype=np.int64)
    stamps = np.empty(cap, dtype=np.int64)
    values = np.empty(cap, dtype=np.int64)  # the doubles' bits
    meta = np.empty((cap, 2), dtype=np.int64)
    n_ts, n_s, n_meta = _scan(buf, lo, hi, hashes, owner, stamps, values, meta)
    if n_ts < 0:
        return None
    return Scan(
        lo[:n_ts],
        hi[:n_ts],
        hashes[:n_ts],
        owner[:n_s],
        stamps[:n_s],
        values[:n_s].view(np.float64),
        [(a, b) for a, b in meta[:n_meta].tolist()],
    )


def distinct_regions(raw: bytes, scan: Scan) -> tuple[I64Array, I64Array]:
    """The distinct label regions: (index of each one's first TimeSeries, in order of
    appearance; for every TimeSeries, the number of its distinct region)."""
    first_of = _first_equal(np.frombuffer(raw, dtype=np.uint8), scan.region_start,
                            scan.region_end, scan.region_hash)  # fmt: skip
    first = np.flatnonzero(first_of == np.arange(len(first_of)))
    number = np.empty(len(first_of), dtype=np.int64)
    number[first] = np.arange(len(first))
    return first, number[first_of]


@numba.njit(cache=True, nogil=True)
def _varint(buf: U8Array, pos: int, end: int) -> tuple[int, int]:  # pragma: no cover
    """The varint at `pos` (not reaching `end`), int64 bits: (value, next position), or pos -1."""
    value = 0
    shift = 0
    for _ in range(10):
        if pos >= end:
            return 0, -1
        b = np.int64(buf[pos])
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7
    return 0, -1


@numba.njit(cache=True, nogil=True, inline="always")
def _field(buf: U8Array, pos: int, end: int) -> tuple[int, int, int]:  # pragma: no cover
    """A length-delimited field's tag and size, and where its bytes start; pos -1 if it is
    truncated or its size overruns `end`. Other wire types are returned as they are read and
    rejected by the caller (their tag is never one it expects)."""
    tag, pos = _varint(buf, pos, end)
    if pos < 0:
        return 0, 0, -1
    size, pos = _varint(buf, pos, end)
    if pos < 0 or size < 0 or size > end - pos:
        return 0, 0, -1
    return tag, size, pos


@numba.njit(cache=True, nogil=True)
def _scan(
    buf: U8Array,
    lo: I64Array,
    hi: I64Array,
    hashes: U64Array,
    owner: I64Array,
    stamps: I64Array,
    values: I64Array,
    meta: I64Array,
) -> tuple[int, int, int]:  # pragma: no cover
    """Fill the output arrays: (TimeSeries kept, samples, metadata), or -1s to give up."""
    n = len(buf)
    pos = 0
    n_ts = 0
    n_s = 0
    n_meta = 0
    while pos < n:
        tag, size, pos = _field(buf, pos, n)
        if pos < 0 or (tag != _TAG_TIMESERIES and tag != _TAG_METADATA):
            return -1, -1, -1
        end = pos + size
        if tag == _TAG_METADATA:
            meta[n_meta, 0] = pos
            meta[n_meta, 1] = end
            n_meta += 1
            pos = end
            continue
        start = pos
        labels_end = pos
        first = n_s
        while pos < end:
            tag, size, pos = _field(buf, pos, end)
            if pos < 0:
                return -1, -1, -1
            field_end = pos + size
            if tag == _TAG_LABELS:
                if n_s > first:
                    return -1, -1, -1  # labels after samples: the general decoder handles it
                labels_end = field_end
            elif tag == _TAG_SAMPLES:
                bits = 0
                stamp = 0
                while pos < field_end:
                    tag, pos = _varint(buf, pos, field_end)
                    if pos < 0:
                        return -1, -1, -1
                    if tag == _TAG_VALUE:
                        if field_end - pos < 8:
                            return -1, -1, -1
                        bits = 0
                        for k in range(8):
                            bits |= np.int64(buf[pos + k]) << (8 * k)
                        pos += 8
                    elif tag == _TAG_TIMESTAMP:
                        stamp, pos = _varint(buf, pos, field_end)
                        if pos < 0:
                            return -1, -1, -1
                    else:
                        return -1, -1, -1
                owner[n_s] = n_ts
                stamps[n_s] = stamp
                values[n_s] = bits
                n_s += 1
            else:
                return -1, -1, -1  # exemplars, histograms or unknown fields
            pos = field_end
        if n_s > first:
            lo[n_ts] = start
            hi[n_ts] = labels_end
            hashes[n_ts] = _hash(buf, start, labels_end)
            n_ts += 1
    return n_ts, n_s, n_meta


@numba.njit(cache=True, nogil=True, inline="always")
def _word(buf: U8Array, pos: int) -> int:  # pragma: no cover
    """Eight bytes at `pos`, little-endian, as int64 bits."""
    w = 0
    for k in range(8):
        w |= np.int64(buf[pos + k]) << (8 * k)
    return w


@numba.njit(cache=True, nogil=True)
def _hash(buf: U8Array, start: int, end: int) -> np.uint64:  # pragma: no cover
    """A 64-bit hash of buf[start:end], eight bytes a step (collisions are checked by the caller)."""
    h = np.uint64(0x9E3779B97F4A7C15) ^ np.uint64(end - start)
    pos = start
    while pos + 8 <= end:
        h = (h ^ np.uint64(_word(buf, pos))) * np.uint64(0xFF51AFD7ED558CCD)
        h ^= h >> np.uint64(32)
        pos += 8
    while pos < end:
        h = (h ^ np.uint64(buf[pos])) * np.uint64(0x100000001B3)
        pos += 1
    h ^= h >> np.uint64(29)
    return h * np.uint64(0xC4CEB9FE1A85EC53)


@numba.njit(cache=True, nogil=True)
def _first_equal(
    buf: U8Array, lo: I64Array, hi: I64Array, hashes: U64Array
) -> I64Array:  # pragma: no cover
    """For each region, the first region with the same bytes (open addressing on the hashes)."""
    n = len(lo)
    size = 1
    while size < 2 * n:
        size *= 2
    mask = np.uint64(size - 1)
    table = np.full(size, -1, dtype=np.int64)
    first_of = np.empty(n, dtype=np.int64)
    for i in range(n):
        slot = hashes[i] & mask
        while True:
            j = table[slot]
            if j < 0:
                table[slot] = i
                first_of[i] = i
                break
            if hashes[j] == hashes[i] and _same_bytes(buf, lo[i], hi[i], lo[j], hi[j]):
                first_of[i] = j
                break
            slot = (slot + np.uint64(1)) & mask
    return first_of


@numba.njit(cache=True, nogil=True, inline="always")
def _same_bytes(buf: U8Array, a: int, a_end: int, b: int, b_end: int) -> bool:  # pragma: no cover
    size = a_end - a
    if size != b_end - b:
        return False
    k = 0
    while k + 8 <= size:
        if _word(buf, a + k) != _word(buf, b + k):
            return False
        k += 8
    while k < size:
        if buf[a + k] != buf[b + k]:
            return False
        k += 1
    return True
