"""Byte-level helpers of the chunk format: varints, zigzag, and a bounds-checked reader.

Every read of a chunk goes through `ByteReader`, so a truncated or corrupted chunk surfaces
as `InvalidInput` instead of an IndexError deep inside NumPy.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from openmanager.errors import InvalidInput

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]

_MASK64 = (1 << 64) - 1


def zigzag(x: I64) -> U64:
    """Map signed to unsigned so small magnitudes get small codes: 0,-1,1,-2 -> 0,1,2,3."""
    return ((x << np.int64(1)) ^ (x >> np.int64(63))).view(np.uint64)


def unzigzag(u: U64) -> I64:
    """Inverse of `zigzag`."""
    return ((u >> np.uint64(1)) ^ (np.uint64(0) - (u & np.uint64(1)))).view(np.int64)


def zigzag_int(x: int) -> int:
    """Scalar `zigzag` for a Python int in int64 range."""
    return ((x << 1) ^ (x >> 63)) & _MASK64


def unzigzag_int(u: int) -> int:
    """Scalar `unzigzag`, back to a signed int64 value."""
    return (u >> 1) ^ -(u & 1)


def write_varint(out: bytearray, value: int) -> None:
    """Append an unsigned LEB128 varint (0 <= value < 2**64)."""
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


class ByteReader:
    """Sequential reader over a chunk; every overrun raises `InvalidInput`."""

    __slots__ = ("_buf", "pos")

    def __init__(self, buf: bytes | memoryview, pos: int = 0) -> None:
        self._buf = memoryview(buf).cast("B")
        self.pos = pos

    def remaining(self) -> int:
        """Bytes left after the current position."""
        return len(self._buf) - self.pos

    def u8(self) -> int:
        """One unsigned byte."""
        if self.pos >= len(self._buf):
            raise InvalidInput("corrupted chunk: truncated")
        value = self._buf[self.pos]
        self.pos += 1
        return int(value)

    def varint(self) -> int:
        """One unsigned LEB128 varint of at most 10 bytes."""
        if self.pos < len(self._buf) and self._buf[self.pos] < 0x80:
            self.pos += 1
            return int(self._buf[self.pos - 1])
        result = 0
        for shift in range(0, 70, 7):
            byte = self.u8()
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                if result > _MASK64:
                    break
                return result
        raise InvalidInput("corrupted chunk: bad varint")

    def signed(self) -> int:
        """A zigzag varint as a signed int64 value."""
        return unzigzag_int(self.varint())

    def take(self, size: int) -> memoryview:
        """The next `size` bytes, without copying."""
        if size < 0 or self.pos + size > len(self._buf):
            raise InvalidInput("corrupted chunk: truncated")
        view = self._buf[self.pos : self.pos + size]
        self.pos += size
        return view

    def block(self) -> memoryview:
        """A varint length followed by that many bytes."""
        return self.take(self.varint())
