"""A block's index file: label sets via a symbol table, chunk refs per series, metric metadata.

Everything is numeric arrays in the narrowest dtype that fits, concatenated behind a small
JSON header and compressed with zstd as one frame. Postings are not stored: they are built
from the label sets on open (cheaper on disk, and measured fast enough, see `Block`).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import zstandard

from openmanager.errors import InvalidInput
from openmanager.samples import Labels, SeriesMeta

MAGIC = b"OMIX"
_HEAD = struct.Struct("<4sBI")  # magic, version, header length (after decompression)
_VERSION = 1
_ZSTD_LEVEL = 12

I64 = npt.NDArray[np.int64]


@dataclass
class BlockIndex:
    """Decoded index: series i owns chunks chunk_start[i]:chunk_start[i+1]."""

    labels: list[Labels]
    chunk_start: I64
    chunk_mint: I64
    chunk_maxt: I64
    chunk_n: I64
    chunk_len: I64  # shape (chunks, columns); 0 = column absent (or an alias) in that chunk
    chunk_alias: I64  # shape (chunks, columns); j + 1 = a copy of column j, 0 = stored or absent
    metadata: dict[str, SeriesMeta] = field(default_factory=dict)
    chunk_same: I64 | None = None
    """Shape (chunks, columns); p + 1 = the same bytes as flat (chunk, column) position p,
    stored once earlier in the block (length 0 here); 0 = own bytes or absent."""

    @property
    def chunk_offset(self) -> I64:
        """Byte offset of each (chunk, column) in the chunks file, in write order."""
        flat = self.chunk_len.reshape(-1)
        offs = np.zeros(len(flat), dtype=np.int64)
        if len(flat) > 1:
            np.cumsum(flat[:-1], out=offs[1:])
        return offs.reshape(self.chunk_len.shape)

    def chunk_spans(self) -> tuple[I64, I64]:
        """(offset, length) of each (chunk, column)'s bytes, shared bytes resolved."""
        offs, lens = self.chunk_offset, self.chunk_len
        if self.chunk_same is None or not bool(np.any(self.chunk_same)):
            return offs, lens
        same = self.chunk_same.reshape(-1)
        ref = np.flatnonzero(same)
        offs, lens = offs.reshape(-1).copy(), lens.reshape(-1).copy()
        offs[ref], lens[ref] = offs[same[ref] - 1], lens[same[ref] - 1]
        return offs.reshape(self.chunk_len.shape), lens.reshape(self.chunk_len.shape)


def _narrow(arr: npt.NDArray[np.int64]) -> npt.NDArray[np.unsignedinteger]:
    """The array in the smallest unsigned dtype holding it (values must be >= 0)."""
    if len(arr) and int(arr.min()) < 0:
        raise InvalidInput("index field must not be negative")
    top = int(arr.max()) if len(arr) else 0
    for dt in (np.uint8, np.uint16, np.uint32, np.uint64):
        if top <= np.iinfo(dt).max:
            return arr.astype(dt)
    raise InvalidInput("index field out of range")  # pragma: no cover - uint64 holds any int64 >= 0


def encode_index(
    labels: Sequence[Labels],
    chunk_counts: Sequence[int],
    chunk_mint: I64,
    chunk_maxt: I64,
    chunk_n: I64,
    chunk_len: I64,
    metadata: Mapping[str, SeriesMeta],
    base_time: int,
    chunk_alias: I64 | None = None,
    chunk_same: I64 | None = None,
) -> bytes:
    """Serialise an index; chunk times are stored relative to `base_time` (the block's min)."""
    symbols = sorted({s for lbl in labels for pair in lbl for s in pair})
    ref = {s: i for i, s in enumerate(symbols)}
    names = np.fromiter((ref[k] for lbl in labels for k, _ in lbl), dtype=np.int64)
    values = np.fromiter((ref[v] for lbl in labels for _, v in lbl), dtype=np.int64)
    encoded = [s.encode("utf-8", "surrogatepass") for s in symbols]
    arrays: dict[str, npt.NDArray[np.generic]] = {
        "sym_len": _narrow(np.fromiter((len(b) for b in encoded), dtype=np.int64)),
        "sym_bytes": np.frombuffer(b"".join(encoded), dtype=np.uint8),
        "nlabels": _narrow(np.fromiter((len(lbl) for lbl in labels), dtype=np.int64)),
        "name_ref": _narrow(names),
        "value_ref": _narrow(values),
        "nchunks": _narrow(np.asarray(chunk_counts, dtype=np.int64)),
        "mint": _narrow(np.asarray(chunk_mint, dtype=np.int64) - base_time),
        "span": _narrow(np.asarray(chunk_maxt, dtype=np.int64) - chunk_mint),
        "n": _narrow(np.asarray(chunk_n, dtype=np.int64)),
        "len": _narrow(np.asarray(chunk_len, dtype=np.int64).reshape(-1)),
    }
    if chunk_alias is not None and bool(np.any(chunk_alias)):
        arrays["alias"] = _narrow(np.asarray(chunk_alias, dtype=np.int64).reshape(-1))
    if chunk_same is not None and bool(np.any(chunk_same)):
        arrays["same"] = _narrow(np.asarray(chunk_same, dtype=np.int64).reshape(-1))
    header = {
        "base_time": base_time,
        "columns": int(chunk_len.shape[1]) if chunk_len.ndim == 2 else 1,
        "arrays": [[k, a.dtype.str, len(a)] for k, a in arrays.items()],
        "metadata": {k: [m.type, m.help, m.unit] for k, m in sorted(metadata.items())},
    }
    head = json.dumps(header, separators=(",", ":")).encode()
    body = len(head).to_bytes(4, "little") + head + b"".join(a.tobytes() for a in arrays.values())
    frame = zstandard.ZstdCompressor(level=_ZSTD_LEVEL, write_checksum=True).compress(body)
    return _HEAD.pack(MAGIC, _VERSION, len(body)) + frame


def decode_index(data: bytes) -> BlockIndex:
    """Parse an index file written by `encode_index`; InvalidInput if it is damaged."""
    try:
        magic, version, size = _HEAD.unpack_from(data)
        if magic != MAGIC or version != _VERSION:
            raise InvalidInput(f"not a block index (magic {magic!r}, version {version})")
        body = zstandard.ZstdDecompressor().decompress(data[_HEAD.size :], max_output_size=size)
        hlen = int.from_bytes(body[:4], "little")
        header = json.loads(body[4 : 4 + hlen])
        pos = 4 + hlen
        arrays: dict[str, npt.NDArray[np.int64]] = {}
        for name, dtype, count in header["arrays"]:
            arr = np.frombuffer(body, dtype=np.dtype(dtype), count=count, offset=pos)
            arrays[name] = arr.astype(np.int64)
            pos += arr.nbytes
    except (struct.error, zstandard.ZstdError, ValueError, KeyError) as exc:
        raise InvalidInput(f"damaged block index: {exc}") from exc
    sym_bytes = arrays["sym_bytes"].astype(np.uint8).tobytes()
    ends = np.cumsum(arrays["sym_len"])
    starts = ends - arrays["sym_len"]
    symbols = [
        sym_bytes[a:b].decode("utf-8", "surrogatepass")
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True)
    ]
    names = [symbols[i] for i in arrays["name_ref"].tolist()]
    values = [symbols[i] for i in arrays["value_ref"].tolist()]
    labels: list[Labels] = []
    pos = 0
    for k in arrays["nlabels"].tolist():
        labels.append(tuple(zip(names[pos : pos + k], values[pos : pos + k], strict=True)))
        pos += k
    chunk_start = np.zeros(len(labels) + 1, dtype=np.int64)
    np.cumsum(arrays["nchunks"], out=chunk_start[1:])
    base = int(header["base_time"])
    mint = arrays["mint"] + base
    shape = (-1, int(header["columns"]))
    lengths = arrays["len"].reshape(shape)
    alias = arrays["alias"].reshape(shape) if "alias" in arrays else np.zeros_like(lengths)
    return BlockIndex(
        labels=labels,
        chunk_start=chunk_start,
        chunk_mint=mint,
        chunk_maxt=mint + arrays["span"],
        chunk_n=arrays["n"],
        chunk_len=lengths,
        chunk_alias=alias,
        metadata={k: SeriesMeta(*v) for k, v in header["metadata"].items()},
        chunk_same=arrays["same"].reshape(shape) if "same" in arrays else None,
    )
