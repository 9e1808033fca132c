"""Residual coder: unsigned codes split into raw low bits and entropy-coded high symbols.

Per block of 64 codes a width b follows the block's typical magnitude: the low b bits are
close to uniform and are bit-packed raw; the high part (about `HIGH_BITS` bits, skewed) goes
through zstd, whose Huffman stage codes it near its entropy. Highs >= 255 escape to a side
list. When every high is below 16 they are first grouped k to a byte in radix M (M**k <= 256),
so Huffman sees joint symbols and a skewed alphabet costs less than one bit per code.
Adaptive Rice codes (`rice`) replace all this when they come out smaller, and always for
short streams, where zstd's table description would cost more than it saves.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from openmanager.errors import InvalidInput
from openmanager.tsdb.codec._io import U64, ByteReader, write_varint
from openmanager.tsdb.codec.bitpack import MAX_WIDTH, U8, pack_bits, packed_size, unpack_bits
from openmanager.tsdb.codec.blocks import BLOCK, block_counts, block_sums
from openmanager.tsdb.codec.entropy import read_stream, write_stream
from openmanager.tsdb.codec.rice import plan_rice, read_rice, write_rice

HIGH_BITS = 4
"""About this many top bits of a block's typical code go to zstd; the rest are raw."""
ESCAPE = 255
_GROUP_LIMIT = 16
_RICE = 0xFF
_RICE_ONLY = 512
"""Up to this many codes Rice is taken whenever it applies: zstd's table would not pay."""

F64 = npt.NDArray[np.float64]


def _widths(u: U64) -> U8:
    """Raw low-bit width of each block: the typical code's bit length minus `HIGH_BITS`."""
    means = block_sums(u.astype(np.float64), BLOCK) / block_counts(len(u), BLOCK)
    bitlen = np.frexp(np.rint(means))[1]
    widths: U8 = np.minimum(np.maximum(bitlen - HIGH_BITS, 0), MAX_WIDTH).astype(np.uint8)
    return widths


def _group_size(radix: int) -> int:
    """How many radix-`radix` digits fit in one byte (any number when radix is 1)."""
    if radix < 2:
        return 8
    k = 1
    while radix ** (k + 1) <= 256:
        k += 1
    return k


def _group(hb: U8, radix: int) -> U8:
    """Pack k digits per byte, little-endian in radix `radix`."""
    k = _group_size(radix)
    pad = (-len(hb)) % k
    digits = np.concatenate([hb, np.zeros(pad, dtype=np.uint8)]).reshape(-1, k).astype(np.int64)
    grouped: U8 = (digits @ (radix ** np.arange(k, dtype=np.int64))).astype(np.uint8)
    return grouped


def _ungroup(grouped: U8, radix: int, m: int) -> U8:
    """Inverse of `_group`: the first m digits."""
    k = _group_size(radix)
    rest = grouped.astype(np.int64)
    digits = np.empty((len(grouped), k), dtype=np.uint8)
    for i in range(k):
        digits[:, i] = rest % radix
        rest //= radix
    if np.any(rest):
        raise InvalidInput("corrupted chunk: grouped symbol out of range")
    out: U8 = digits.reshape(-1)[:m]
    return out


def write_residuals(u: U64, out: bytearray, level: int) -> None:
    """Append m = len(u) codes (m known to the reader, m > 0)."""
    rice = plan_rice(u)
    if rice is not None and len(u) <= _RICE_ONLY:
        out.append(_RICE)
        write_rice(u, rice[0], out)
        return
    b = _widths(u)
    widths = np.repeat(b, BLOCK)[: len(u)]
    high = u >> widths.astype(np.uint64)
    hb = np.minimum(high, ESCAPE).astype(np.uint8)
    top = int(hb.max())
    coded = bytearray([0])
    write_stream(coded, b.tobytes() + hb.tobytes(), level)
    if top < _GROUP_LIMIT:
        grouped = bytearray([top + 1])
        packed = _group(hb, top + 1).tobytes() if top else b""
        write_stream(grouped, b.tobytes() + packed, level)
        coded = grouped if len(grouped) < len(coded) else coded
    escapes = high[hb == ESCAPE]
    write_varint(coded, len(escapes))
    if len(escapes):
        write_stream(coded, escapes.astype("<u8").tobytes(), level)
    if rice is not None and 1 + rice[1] < len(coded) + packed_size(widths):
        out.append(_RICE)
        write_rice(u, rice[0], out)
        return
    out += coded
    out += pack_bits(u, widths)


def read_residuals(reader: ByteReader, m: int) -> U64:
    """Read m codes written by `write_residuals`."""
    nb = -(-m // BLOCK)
    radix = reader.u8()
    if radix == _RICE:
        return read_rice(reader, m)
    if radix > _GROUP_LIMIT:
        raise InvalidInput("corrupted chunk: bad symbol radix")
    if radix == 0:
        raw = np.frombuffer(read_stream(reader, nb + m), dtype=np.uint8)
        hb = raw[nb:]
    else:
        size = 0 if radix == 1 else -(-m // _group_size(radix))
        raw = np.frombuffer(read_stream(reader, nb + size), dtype=np.uint8)
        hb = _ungroup(raw[nb:], radix, m) if radix > 1 else np.zeros(m, dtype=np.uint8)
    b = raw[:nb]
    if int(b.max()) > MAX_WIDTH:
        raise InvalidInput("corrupted chunk: bad bit width")
    high = hb.astype(np.uint64)
    n_esc = reader.varint()
    is_esc = hb == ESCAPE
    if n_esc != int(np.count_nonzero(is_esc)):
        raise InvalidInput("corrupted chunk: escape count mismatch")
    if n_esc:
        high[is_esc] = np.frombuffer(read_stream(reader, 8 * n_esc), dtype="<u8")
    widths = np.repeat(b, BLOCK)[:m]
    low = unpack_bits(reader.take(packed_size(widths)), widths)
    codes: U64 = (high << widths.astype(np.uint64)) | low
    return codes
