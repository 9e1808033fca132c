"""The value section of a chunk: decimal integers when exact, float64 bit coding otherwise.

Modes: DECIMAL (mantissas via `intcodec` + exceptions stored as raw bits), FLOAT_INT (the
float64 bit patterns as int64, delta coded: close positive floats have close patterns) and
FLOAT_XOR (bits XOR previous, Gorilla's idea, as 8 byte planes each through zstd). Every
mode reproduces the exact bit pattern, NaN payloads and the stale marker included.
"""

from __future__ import annotations

import numpy as np

from openmanager.errors import InvalidInput
from openmanager.tsdb.codec._io import I64, ByteReader, write_varint, zigzag_int
from openmanager.tsdb.codec.decimal import (
    F64,
    MAX_DECIMALS,
    DecimalForm,
    from_decimal,
    to_decimal,
)
from openmanager.tsdb.codec.entropy import DEFAULT_LEVEL, read_stream, write_stream
from openmanager.tsdb.codec.intcodec import decode_ints, encode_ints

DECIMAL = 0
FLOAT_INT = 1
FLOAT_XOR = 2
_MAX_EXPONENT = 18
_TRY_FLOAT_TOO = 1 << 48
"""Mantissas this large (15+ digits) may code smaller as float bits: try both."""


def encode_values(values: F64, out: bytearray, *, level: int = DEFAULT_LEVEL) -> None:
    """Append the coded values (their count is known to the reader) to `out`."""
    if len(values) == 0:
        return
    form = to_decimal(values)
    if form is not None:
        decimal = bytearray([DECIMAL])
        _write_decimal(values, form, decimal, level)
        if int(np.abs(form.mantissas).max()) < _TRY_FLOAT_TOO:
            out += decimal
            return
        floats = _encode_float(values, level)
        out += decimal if len(decimal) <= len(floats) else floats
        return
    out += _encode_float(values, level)


def _write_decimal(values: F64, form: DecimalForm, out: bytearray, level: int) -> None:
    """Exponent, mantissas, then exception positions and their raw bits."""
    write_varint(out, zigzag_int(form.exponent))
    encode_ints(form.mantissas, out, level=level)
    positions = np.flatnonzero(form.exceptions).astype(np.int64)
    write_varint(out, len(positions))
    if len(positions):
        encode_ints(positions, out, level=level)
        write_stream(out, values.view(np.uint64)[positions].astype("<u8").tobytes(), level)


def _encode_float(values: F64, level: int) -> bytearray:
    """The smaller of the two float64 bit codings."""
    bits = values.view(np.int64)
    as_int = bytearray([FLOAT_INT])
    encode_ints(bits, as_int, level=level)
    as_xor = bytearray([FLOAT_XOR])
    _write_xor_planes(bits, as_xor, level)
    return as_int if len(as_int) <= len(as_xor) else as_xor


def decode_values(reader: ByteReader, n: int) -> F64:
    """Read `n` float64 values written by `encode_values`."""
    if n == 0:
        return np.zeros(0, dtype=np.float64)
    mode = reader.u8()
    if mode == DECIMAL:
        exponent = reader.signed()
        if not -MAX_DECIMALS <= exponent <= _MAX_EXPONENT:
            raise InvalidInput("corrupted chunk: bad decimal exponent")
        values = from_decimal(decode_ints(reader, n), exponent)
        n_exc = reader.varint()
        if n_exc:
            if n_exc > n:
                raise InvalidInput("corrupted chunk: too many exceptions")
            positions = decode_ints(reader, n_exc)
            if int(positions.min()) < 0 or int(positions.max()) >= n:
                raise InvalidInput("corrupted chunk: exception position out of range")
            raw = read_stream(reader, 8 * n_exc)
            values.view(np.uint64)[positions] = np.frombuffer(raw, dtype="<u8")
        return values
    if mode == FLOAT_INT:
        return decode_ints(reader, n).view(np.float64)
    if mode == FLOAT_XOR:
        return _read_xor_planes(reader, n).view(np.float64)
    raise InvalidInput(f"corrupted chunk: unknown value mode {mode}")


def _write_xor_planes(bits: I64, out: bytearray, level: int) -> None:
    """XOR with the previous value, then one zstd stream per byte position."""
    u = bits.view(np.uint64)
    x = u ^ np.concatenate([np.zeros(1, dtype=np.uint64), u[:-1]])
    planes = x.astype("<u8").view(np.uint8).reshape(len(x), 8).T
    for plane in planes:
        write_stream(out, plane.tobytes(), level)


def _read_xor_planes(reader: ByteReader, n: int) -> I64:
    """Inverse of `_write_xor_planes`."""
    planes = np.empty((8, n), dtype=np.uint8)
    for i in range(8):
        planes[i] = np.frombuffer(read_stream(reader, n), dtype=np.uint8)
    x = np.ascontiguousarray(planes.T).view("<u8").reshape(n).astype(np.uint64)
    return np.bitwise_xor.accumulate(x).view(np.int64)
