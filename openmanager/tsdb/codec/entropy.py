"""The entropy stage: zstd on byte streams, kept raw when zstd does not make them smaller.

Frames are magicless, without checksum or content size (the chunk has its own CRC and the
caller knows every stream's decoded size), so a small stream costs two bytes of framing.
"""

from __future__ import annotations

import threading

import zstandard

from openmanager.errors import InvalidInput
from openmanager.tsdb.codec._io import ByteReader, write_varint

DEFAULT_LEVEL = 1
"""zstd level of `encode_chunk`. The streams are near-random symbols where zstd's Huffman stage
does the work and LZ matches rarely pay: level 1 is both the fastest and (slightly) the
smallest on the fleet workload (benchmarks/codec_breakdown.py --levels 1,3,9,19)."""

_MAX_WINDOW = 1 << 27
"""A damaged frame header must not make the decoder reserve gigabytes."""

_local = threading.local()


def _compressor(level: int) -> zstandard.ZstdCompressor:
    cache: dict[int, zstandard.ZstdCompressor] | None = getattr(_local, "cctx", None)
    if cache is None:
        cache = _local.cctx = {}
    cctx = cache.get(level)
    if cctx is None:
        params = zstandard.ZstdCompressionParameters.from_level(
            level,
            format=zstandard.FORMAT_ZSTD1_MAGICLESS,
            write_content_size=0,
            write_checksum=0,
            write_dict_id=0,
        )
        cctx = cache[level] = zstandard.ZstdCompressor(compression_params=params)
    return cctx


def _decompressor() -> zstandard.ZstdDecompressor:
    dctx: zstandard.ZstdDecompressor | None = getattr(_local, "dctx", None)
    if dctx is None:
        dctx = _local.dctx = zstandard.ZstdDecompressor(
            max_window_size=_MAX_WINDOW, format=zstandard.FORMAT_ZSTD1_MAGICLESS
        )
    return dctx


def write_stream(out: bytearray, payload: bytes, level: int = DEFAULT_LEVEL) -> None:
    """Append `payload` as varint(size*2 + compressed) + bytes, zstd only when it pays."""
    if len(payload) >= 16:
        packed = _compressor(level).compress(payload)
        if len(packed) < len(payload):
            write_varint(out, len(packed) * 2 + 1)
            out += packed
            return
    write_varint(out, len(payload) * 2)
    out += payload


def read_stream(reader: ByteReader, size: int) -> bytes:
    """Read one `write_stream` payload whose decoded length must be `size` bytes."""
    head = reader.varint()
    data = reader.take(head >> 1)
    if not head & 1:
        if len(data) != size:
            raise InvalidInput("corrupted chunk: stream size mismatch")
        return bytes(data)
    try:
        raw: bytes = _decompressor().decompress(data, max_output_size=max(size, 1))
    except (zstandard.ZstdError, MemoryError) as exc:
        raise InvalidInput(f"corrupted chunk: {exc}") from exc
    if len(raw) != size:
        raise InvalidInput("corrupted chunk: stream size mismatch")
    return raw
