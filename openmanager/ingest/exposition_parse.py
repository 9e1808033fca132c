"""Parser for Prometheus text 0.0.4 and OpenMetrics 1.0: bytes in, `SampleBatch`es out.

Streams in bounded memory (blocks of `block_bytes`, batches of `chunk_lines` lines), parses
each distinct series text once, and converts value/timestamp columns in C (see `parse_fast`).
Strict mode raises `InvalidInput` naming the first bad line; lenient mode (backfill) keeps the
good lines and reports every bad one. The formats' rules live in `parse_line`/`parse_family`.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from openmanager.ingest.parse_driver import ChunkParser
from openmanager.ingest.parse_types import Format, ParsedChunk, ParseIssue, ParseOptions
from openmanager.samples import SampleBatch

__all__ = [
    "Format",
    "ParseIssue",
    "ParseOptions",
    "ParsedChunk",
    "detect_format",
    "format_for_content_type",
    "iter_chunks",
    "merge_chunks",
    "parse_text",
]

MAX_LINE_BYTES = 16 * 1024 * 1024
"""A longer line is rejected (and skipped to the next newline) rather than buffered."""


def iter_chunks(
    source: BinaryIO | bytes | Iterable[bytes],
    options: ParseOptions | None = None,
    parser: ChunkParser | None = None,
) -> Iterator[ParsedChunk]:
    """Parse a binary stream, a bytes object or an iterable of byte pieces, chunk by chunk
    (with `parser`: carry on from its state, e.g. in the middle of a file)."""
    opts = options or ParseOptions()
    parser = ChunkParser(opts) if parser is None else parser
    carry = b""
    skipping = False
    for piece in _pieces(source, opts.block_bytes):
        parser.bytes_read += len(piece)
        if skipping:
            cut = piece.find(b"\n")
            if cut < 0:
                continue
            piece, skipping = piece[cut + 1 :], False
        data = carry + piece if carry else piece
        cut = data.rfind(b"\n")
        if cut < 0:
            carry = data
        else:
            carry = data[cut + 1 :]
            yield from parser.feed(data[:cut])
        if len(carry) > MAX_LINE_BYTES:
            parser.line_no += 1
            parser.reject(parser.line_no, "syntax", f"line longer than {MAX_LINE_BYTES} bytes")
            carry, skipping = b"", True
    if carry:
        yield from parser.feed(carry)
    yield from parser.finish()


def parse_text(data: bytes | str, options: ParseOptions | None = None) -> ParsedChunk:
    """Parse a whole exposition (a scrape page, a test input) into one chunk."""
    opts = dataclasses.replace(options or ParseOptions(), chunk_lines=2**62)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    chunks = list(iter_chunks(raw, opts))
    return chunks[0] if len(chunks) == 1 else merge_chunks(chunks)


def merge_chunks(chunks: list[ParsedChunk]) -> ParsedChunk:
    """One chunk holding the samples, issues and counts of several (in order)."""
    series_index: dict[tuple[tuple[str, str], ...], int] = {}
    refs, ts, vals = [], [], []
    meta = {}
    issues: list[ParseIssue] = []
    rejected: Counter[str] = Counter()
    for c in chunks:
        local = np.asarray([series_index.setdefault(s, len(series_index)) for s in c.batch.series])
        refs.append(local[c.batch.series_ref] if len(c.batch) else c.batch.series_ref)
        ts.append(c.batch.timestamps)
        vals.append(c.batch.values)
        meta.update(c.batch.metadata)
        issues.extend(c.issues)
        rejected.update(c.rejected)
    batch = SampleBatch(
        list(series_index),
        np.concatenate(refs) if refs else np.zeros(0, dtype=np.int64),
        np.concatenate(ts) if ts else np.zeros(0, dtype=np.int64),
        np.concatenate(vals) if vals else np.zeros(0),
        meta,
    )
    first = chunks[0].first_line if chunks else 1
    last = chunks[-1].last_line if chunks else 0
    read = chunks[-1].bytes_read if chunks else 0
    return ParsedChunk(batch, first, last, read, issues, rejected)


def detect_format(path: Path) -> Format:
    """OpenMetrics for `.om`/`.openmetrics` files or files ending in `# EOF`; else Prometheus text."""
    suffix = path.suffix.lower()
    if suffix in (".om", ".openmetrics"):
        return "openmetrics"
    if suffix in (".prom", ".txt"):
        return "text"
    with path.open("rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - 64))
        tail = fh.read()
    return "openmetrics" if tail.rstrip(b"\n").endswith(b"# EOF") else "text"


def format_for_content_type(content_type: str | None) -> Format:
    """The format a scrape response declares: OpenMetrics for `application/openmetrics-text`."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return "openmetrics" if media == "application/openmetrics-text" else "text"


def _pieces(source: BinaryIO | bytes | Iterable[bytes], size: int) -> Iterator[bytes]:
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        for i in range(0, len(data), size):
            yield data[i : i + size]
        return
    read = getattr(source, "read", None)
    if read is not None:
        while piece := read(size):
            yield piece
        return
    yield from source
