"""Chunk format: one series' timestamps (int64 ms) and values (float64) as one byte string.

Layout (version 1): version byte, varint sample count, timestamps (`intcodec`: mostly
delta-of-delta, a regular series costs a few bytes), values (`values`: exact decimal or
float64 bit coding), CRC-32 of everything before it (4 bytes, little-endian).
Timestamps need not be sorted: any int64 sequence round-trips unchanged.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

from openmanager.errors import InvalidInput
from openmanager.samples import Float64Array, Int64Array
from openmanager.tsdb.codec._io import ByteReader, write_varint
from openmanager.tsdb.codec.entropy import DEFAULT_LEVEL
from openmanager.tsdb.codec.intcodec import decode_ints, encode_ints
from openmanager.tsdb.codec.values import decode_values, encode_values

VERSION = 1
MAX_SAMPLES = 1 << 22
"""Largest sample count a chunk may claim; guards allocation on a forged header."""
_CRC = struct.Struct("<I")


def encode_chunk(
    timestamps: Int64Array, values: Float64Array, *, level: int = DEFAULT_LEVEL
) -> bytes:
    """Compress one series' samples into bytes; `level` is the zstd level of the entropy stage."""
    ts = np.ascontiguousarray(timestamps, dtype=np.int64)
    vs = np.ascontiguousarray(values, dtype=np.float64)
    if ts.ndim != 1 or vs.ndim != 1:
        raise InvalidInput("timestamps and values must be one-dimensional")
    if len(ts) != len(vs):
        raise InvalidInput(f"timestamps ({len(ts)}) and values ({len(vs)}) differ in length")
    if len(ts) > MAX_SAMPLES:
        raise InvalidInput(f"chunk of {len(ts)} samples exceeds {MAX_SAMPLES}")
    out = bytearray([VERSION])
    write_varint(out, len(ts))
    encode_ints(ts, out, level=level)
    encode_values(vs, out, level=level)
    out += _CRC.pack(zlib.crc32(out))
    return bytes(out)


def decode_chunk(data: bytes | memoryview) -> tuple[Int64Array, Float64Array]:
    """Inverse of `encode_chunk`; values come back bit-identical. Damage raises InvalidInput."""
    view = memoryview(data).cast("B")
    if len(view) < 1 + 1 + _CRC.size:
        raise InvalidInput(f"corrupted chunk: {len(view)} bytes is too short")
    body = view[: -_CRC.size]
    (crc,) = _CRC.unpack(view[-_CRC.size :])
    if zlib.crc32(body) != crc:
        raise InvalidInput("corrupted chunk: checksum mismatch")
    reader = ByteReader(body)
    version = reader.u8()
    if version != VERSION:
        raise InvalidInput(f"unsupported chunk version {version} (this build reads {VERSION})")
    n = reader.varint()
    if n > MAX_SAMPLES:
        raise InvalidInput(f"corrupted chunk: sample count {n} exceeds {MAX_SAMPLES}")
    ts = decode_ints(reader, n)
    vs = decode_values(reader, n)
    if reader.remaining():
        raise InvalidInput(f"corrupted chunk: {reader.remaining()} trailing bytes")
    return ts, vs
