"""Variable-width bit packing of uint64 arrays, vectorised with NumPy.

Value i keeps its low `widths[i]` bits (at most `MAX_WIDTH`), concatenated LSB-first. The
decoder gathers an unaligned 64-bit word at each value's byte offset, then shifts and masks.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from openmanager.errors import InvalidInput
from openmanager.tsdb.codec._io import U64

MAX_WIDTH = 56
"""Widest field: a field plus its bit offset inside the first byte still fits one 64-bit word."""

U8 = npt.NDArray[np.uint8]
_SLICE = 1 << 16


def packed_size(widths: U8) -> int:
    """Bytes that `pack_bits` writes for these widths."""
    return (int(widths.sum(dtype=np.int64)) + 7) // 8


def pack_bits(values: U64, widths: U8) -> bytes:
    """Concatenate the low `widths[i]` bits of `values[i]`, LSB-first."""
    n = len(values)
    top = int(widths.max()) if n else 0
    if top == 0:
        return b""
    if top > MAX_WIDTH:
        raise InvalidInput(f"bit width {top} exceeds {MAX_WIDTH}")
    if n <= _SLICE:
        return _pack(values, widths, top)
    # Bound the 8-bits-per-bit scratch: pack in slices that end on a byte boundary.
    ends = np.cumsum(widths, dtype=np.int64)
    cuts = np.flatnonzero(ends % 8 == 0) + 1
    parts: list[bytes] = []
    start = 0
    while start < n:
        stop = n
        if n - start > _SLICE:
            ok = cuts[(cuts > start) & (cuts <= start + _SLICE)]
            stop = int(ok[-1]) if len(ok) else n
        parts.append(_pack(values[start:stop], widths[start:stop], top))
        start = stop
    return b"".join(parts)


def _pack(values: U64, widths: U8, top: int) -> bytes:
    """`pack_bits` on one slice: unpack to a bit matrix, keep each row's low bits, repack."""
    nbytes = (top + 7) // 8
    low = np.ascontiguousarray(
        values.astype("<u8", copy=False).view(np.uint8).reshape(len(values), 8)[:, :nbytes]
    )
    bits = np.unpackbits(low, axis=1, bitorder="little")
    keep = np.arange(nbytes * 8, dtype=np.uint8) < widths[:, None]
    return np.packbits(bits[keep], bitorder="little").tobytes()


def unpack_bits(buf: bytes | memoryview, widths: U8) -> U64:
    """Inverse of `pack_bits`; `buf` must hold exactly `packed_size(widths)` bytes."""
    n = len(widths)
    need = packed_size(widths)
    if len(buf) != need:
        raise InvalidInput("corrupted chunk: bit-packed stream has the wrong size")
    if need == 0:
        return np.zeros(n, dtype=np.uint64)
    w64 = widths.astype(np.int64)
    offsets = np.cumsum(w64) - w64
    padded = np.zeros(need + 8, dtype=np.uint8)
    padded[:need] = np.frombuffer(buf, dtype=np.uint8)
    # An unaligned uint64 view starting at every byte: word k covers bytes k..k+7.
    words_at = np.ndarray(shape=(need + 1,), dtype="<u8", buffer=padded, strides=(1,))
    words = words_at[offsets >> 3].astype(np.uint64)
    shifted = words >> (offsets & 7).astype(np.uint64)
    mask = (np.uint64(1) << widths.astype(np.uint64)) - np.uint64(1)
    result: U64 = shifted & mask
    return result
