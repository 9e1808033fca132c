"""Adaptive Golomb-Rice coding of unsigned codes, for streams too short to carry zstd's tables.

Per block of 64 codes a width w is chosen (the cheapest of three around the block's typical
bit length); each code is its quotient u >> w in unary followed by its low w bits. No tables,
so a 480-sample chunk does not pay ~40 bytes of Huffman description. Encoding and decoding are
vectorised: the unary stream is a bit array whose ones mark the end of each quotient.
"""

from __future__ import annotations

import numpy as np

from openmanager.errors import InvalidInput
from openmanager.tsdb.codec._io import U64, ByteReader, write_varint
from openmanager.tsdb.codec.bitpack import MAX_WIDTH, U8, pack_bits, packed_size, unpack_bits
from openmanager.tsdb.codec.blocks import BLOCK, block_counts, block_sums

MAX_QUOTIENT = 64
"""Larger quotients (outliers) make Rice the wrong tool; the zstd path takes those streams."""


def plan_rice(u: U64) -> tuple[U8, int] | None:
    """Per-block widths and the exact coded size in bytes, or None when outliers forbid it."""
    counts = block_counts(len(u), BLOCK)
    sums = block_sums(u.astype(np.float64), BLOCK)
    top = np.frexp(np.rint(sums / counts))[1].astype(np.int64)
    # Estimated bits at width w: sum(u) / 2**w (unary) + count * (1 + w); three w per block.
    w = np.maximum(top[None, :] - np.arange(2, -1, -1)[:, None], 0)
    estimate = np.ldexp(sums[None, :], -w) + counts[None, :] * (1.0 + w)
    widths = np.minimum(np.maximum(top - 2 + np.argmin(estimate, axis=0), 0), MAX_WIDTH)
    w_all = np.repeat(widths.astype(np.uint8), BLOCK)[: len(u)]
    quotients = u >> w_all.astype(np.uint64)
    if int(quotients.max()) > MAX_QUOTIENT:
        return None
    unary_bytes = (int(quotients.sum()) + len(u) + 7) // 8
    size = len(widths) + _varint_len(unary_bytes) + unary_bytes + packed_size(w_all)
    return widths.astype(np.uint8), size


def write_rice(u: U64, widths: U8, out: bytearray) -> None:
    """Append block widths, the unary quotients (length-prefixed) and the low bits."""
    w_all = np.repeat(widths, BLOCK)[: len(u)]
    q = (u >> w_all.astype(np.uint64)).astype(np.int64)
    ends = np.cumsum(q + 1) - 1
    bits = np.zeros(int(ends[-1]) + 1, dtype=np.uint8)
    bits[ends] = 1
    unary = np.packbits(bits, bitorder="little").tobytes()
    out += widths.tobytes()
    write_varint(out, len(unary))
    out += unary
    out += pack_bits(u, w_all)


def read_rice(reader: ByteReader, m: int) -> U64:
    """Read m codes written by `write_rice`."""
    widths = np.frombuffer(reader.take(-(-m // BLOCK)), dtype=np.uint8)
    if int(widths.max()) > MAX_WIDTH:
        raise InvalidInput("corrupted chunk: bad bit width")
    unary = np.frombuffer(reader.block(), dtype=np.uint8)
    ends = np.flatnonzero(np.unpackbits(unary, bitorder="little"))
    if len(ends) != m:
        raise InvalidInput("corrupted chunk: unary stream does not match the sample count")
    q = np.empty(m, dtype=np.int64)
    q[0] = ends[0]
    q[1:] = ends[1:] - ends[:-1] - 1
    w_all = np.repeat(widths, BLOCK)[:m]
    low = unpack_bits(reader.take(packed_size(w_all)), w_all)
    codes: U64 = (q.astype(np.uint64) << w_all.astype(np.uint64)) | low
    return codes


def _varint_len(value: int) -> int:
    return max(1, (value.bit_length() + 6) // 7)
