"""Vectorised protobuf wire-format helpers for the remote-write encoder: varints of many ints at once."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

U8Array = npt.NDArray[np.uint8]
I64Array = npt.NDArray[np.int64]
TAG_VALUE = 0x09  # field 1, wire type 1 (Sample.value, double)
TAG_TIMESTAMP = 0x10  # field 2, wire type 0 (Sample.timestamp, int64 varint)
_MAX_VARINT = 10
_SHIFTS = (np.arange(_MAX_VARINT, dtype=np.uint64) * np.uint64(7)).astype(np.uint64)


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


