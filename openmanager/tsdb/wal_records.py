"""WAL record payloads: a whole appended batch, a deletion, or a cut, as bytes and back.

A record is framed elsewhere (`wal.py`: length + CRC); here only the payload lives. Sample
columns travel as raw little-endian arrays so encoding and decoding stay vectorised.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
import zstandard

from openmanager.errors import InvalidInput
from openmanager.samples import Float64Array, Int64Array, Labels, SeriesMeta

COMPRESS_MIN_BYTES = 16 * 1024
"""Payloads at least this large are zstd-compressed (level 1: cheap, halves the bytes)."""

FLAG_ZSTD = 0x01

_I8 = np.dtype("<i8")
_F8 = np.dtype("<f8")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_CUT = struct.Struct("<q")
_TOMB = struct.Struct("<qqQ")


class RecordType(IntEnum):
    """Kinds of WAL record; 0 is never valid so a zero-filled tail reads as garbage."""

    BATCH = 1
    TOMBSTONE = 2
    CUT = 3


@dataclass
class WalBatch:
    """New series definitions, changed metadata and the accepted samples of one append."""

    series: list[tuple[int, Labels]]
    refs: Int64Array
    timestamps: Int64Array
    values: Float64Array
    metadata: dict[str, SeriesMeta] = field(default_factory=dict)


@dataclass
class WalTombstone:
    """Samples of these series refs with start_ms <= t <= end_ms were deleted."""

    refs: Int64Array
    start_ms: int
    end_ms: int


@dataclass
class WalCut:
    """Samples with t < before_ms (appended before this record) are now in blocks."""

    before_ms: int


WalRecord = WalBatch | WalTombstone | WalCut


def encode(record: WalRecord) -> tuple[RecordType, int, bytes]:
    """Payload bytes of a record, with its type and flags."""
    if isinstance(record, WalBatch):
        rtype, payload = RecordType.BATCH, _encode_batch(record)
    elif isinstance(record, WalTombstone):
        refs = np.ascontiguousarray(record.refs, dtype=_I8)
        head = _TOMB.pack(record.start_ms, record.end_ms, len(refs))
        rtype, payload = RecordType.TOMBSTONE, head + refs.tobytes()
    else:
        rtype, payload = RecordType.CUT, _CUT.pack(record.before_ms)
    if len(payload) >= COMPRESS_MIN_BYTES:
        return rtype, FLAG_ZSTD, zstandard.ZstdCompressor(level=1).compress(payload)
    return rtype, 0, payload


def decode(rtype: int, flags: int, payload: bytes) -> WalRecord:
    """Record from its payload; raises InvalidInput when the bytes do not parse."""
    try:
        if flags & FLAG_ZSTD:
            payload = zstandard.ZstdDecompressor().decompress(payload)
        if rtype == RecordType.BATCH:
            return _decode_batch(payload)
        if rtype == RecordType.TOMBSTONE:
            start, end, n = _TOMB.unpack_from(payload, 0)
            _check_len(payload, _TOMB.size + 8 * n)
            refs = np.frombuffer(payload, _I8, n, _TOMB.size).astype(np.int64)
            return WalTombstone(refs, start, end)
        if rtype == RecordType.CUT:
            _check_len(payload, _CUT.size)
            return WalCut(_CUT.unpack(payload)[0])
    except (zstandard.ZstdError, struct.error, ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(f"undecodable WAL record of type {rtype}: {exc}") from exc
    raise InvalidInput(f"unknown WAL record type {rtype}")


def _encode_batch(rec: WalBatch) -> bytes:
    head = {
        "s": [[ref, [part for pair in labels for part in pair]] for ref, labels in rec.series],
        "m": {k: [m.type, m.help, m.unit] for k, m in rec.metadata.items()},
    }
    meta = json.dumps(head, separators=(",", ":"), ensure_ascii=False).encode()
    n = len(rec.refs)
    return b"".join(
        (
            _U32.pack(len(meta)),
            meta,
            _U64.pack(n),
            np.ascontiguousarray(rec.refs, dtype=_I8).tobytes(),
            np.ascontiguousarray(rec.timestamps, dtype=_I8).tobytes(),
            np.ascontiguousarray(rec.values, dtype=_F8).tobytes(),
        )
    )


def _decode_batch(payload: bytes) -> WalBatch:
    (meta_len,) = _U32.unpack_from(payload, 0)
    pos = _U32.size + meta_len
    head = json.loads(payload[_U32.size : pos].decode())
    (n,) = _U64.unpack_from(payload, pos)
    pos += _U64.size
    _check_len(payload, pos + 24 * n)
    refs = np.frombuffer(payload, _I8, n, pos).astype(np.int64)
    ts = np.frombuffer(payload, _I8, n, pos + 8 * n).astype(np.int64)
    vals = np.frombuffer(payload, _F8, n, pos + 16 * n).astype(np.float64)
    series: list[tuple[int, Labels]] = []
    for ref, flat in head["s"]:
        series.append((int(ref), tuple(zip(flat[0::2], flat[1::2], strict=True))))
    metadata = {k: SeriesMeta(t, h, u) for k, (t, h, u) in head["m"].items()}
    return WalBatch(series, refs, ts, vals, metadata)


def _check_len(payload: bytes, expected: int) -> None:
    if len(payload) != expected:
        raise ValueError(f"payload is {len(payload)} bytes, expected {expected}")
