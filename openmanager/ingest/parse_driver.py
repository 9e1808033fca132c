"""The parser's state machine: blocks of complete lines in, `ParsedChunk`s out at line boundaries.

Runs of plain sample lines go through the fast path; comment lines, and any run the fast path
declines, go line by line through the exact scanner. Rejections become `ParseIssue`s (lenient)
or an `InvalidInput` naming the line (strict).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator

import numpy as np

from openmanager.errors import InvalidInput
from openmanager.ingest.parse_family import FamilyTracker
from openmanager.ingest.parse_fast import split_run
from openmanager.ingest.parse_line import parse_comment, parse_sample_line
from openmanager.ingest.parse_series import SeriesTable
from openmanager.ingest.parse_types import (
    AFTER_EOF,
    FUTURE_TIMESTAMP,
    MISSING_EOF,
    MISSING_TIMESTAMP,
    SYNTAX,
    LineError,
    ParsedChunk,
    ParseIssue,
    ParseOptions,
)
from openmanager.samples import Float64Array, Int64Array, SampleBatch
from openmanager.units import format_duration

MIN_FAST_RUN = 16
"""Shorter runs (scrape pages: a few samples between HELP/TYPE lines) are cheaper line by line."""


class ChunkParser:
    """Feed blocks of complete lines; get a chunk each time `chunk_lines` lines are consumed."""

    def __init__(self, options: ParseOptions, families: FamilyTracker | None = None) -> None:
        if options.chunk_lines < 1:
            raise InvalidInput(f"chunk_lines must be at least 1, got {options.chunk_lines}")
        self.o = options
        self.om = options.format == "openmetrics"
        self.families = FamilyTracker(self.om) if families is None else families
        self.table = SeriesTable(self.families, self.om)
        self.line_no = 0
        self.bytes_read = 0
        self.eof_seen = False
        self._emitted = False
        self._start_line = 1
        self._reset_chunk()

    def _reset_chunk(self) -> None:
        self._parts: list[tuple[Int64Array, Int64Array, Float64Array, Int64Array]] = []
        self._slow: tuple[list[int], list[int], list[float], list[int]] = ([], [], [], [])
        self._issues: list[ParseIssue] = []
        self._rejected: Counter[str] = Counter()
        now = self.o.now_ms() if self.o.now_ms else int(time.time() * 1000)
        self._limit = None if self.o.max_future_ms is None else now + self.o.max_future_ms

    def feed(self, block: bytes) -> Iterator[ParsedChunk]:
        """Consume complete lines joined by newlines (no trailing newline)."""
        n = block.count(b"\n") + 1
        while True:
            room = self.o.chunk_lines - (self.line_no - self._start_line + 1)
            if n < room:
                self._process(block, n)
                return
            if n == room:
                self._process(block, n)
                yield self._emit()
                return
            nl = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10)
            off = int(nl[room - 1])
            self._process(block[:off], room)
            yield self._emit()
            block, n = block[off + 1 :], n - room

    def resume_at(self, line_no: int, bytes_read: int) -> None:
        """Continue numbering after `line_no` lines and `bytes_read` bytes parsed elsewhere."""
        self.line_no, self.bytes_read = line_no, bytes_read
        self._start_line = line_no + 1

    def take_preamble(self, block: bytes) -> None:
        """Read descriptor lines (no trailing newline) into the family state only: their lines
        are neither counted nor reported (a segment parsed behind its family's preamble)."""
        for raw in block.split(b"\n"):
            self._slow_line(raw, 0)
        self._reset_chunk()

    def finish(self) -> Iterator[ParsedChunk]:
        """End of input: check `# EOF` (OpenMetrics) and emit what is pending."""
        if self.om and not self.eof_seen:
            self.reject(self.line_no + 1, MISSING_EOF, "OpenMetrics input must end with # EOF")
        if self.line_no >= self._start_line or self._issues or not self._emitted:
            yield self._emit()

    def _process(self, block: bytes, n: int) -> None:
        """Split a block at comment lines; the runs of sample lines between them take the fast path."""
        first = self.line_no + 1
        self.line_no += n
        cursor, line = 0, first
        for off in _special_starts(block):
            if off > cursor:
                seg = block[cursor : off - 1]
                k = seg.count(b"\n") + 1
                self._samples(seg, k, line)
                line += k
            end = block.find(b"\n", off)
            end = len(block) if end < 0 else end
            self._slow_line(block[off:end], line)
            line, cursor = line + 1, end + 1
        if cursor < len(block):
            self._samples(block[cursor:], first + n - line, line)

    def _samples(self, seg: bytes, n: int, first: int) -> None:
        bulk = self.o.fast_path and n >= MIN_FAST_RUN and not self.eof_seen
        run = split_run(seg, n, self.om) if bulk else None
        ids = self.table.lookup(run.keys) if run is not None else None
        ts = run.timestamps_ms if run is not None else None
        if ts is None and run is not None and self.o.default_timestamp_ms is not None:
            ts = np.full(n, self.o.default_timestamp_ms, dtype=np.int64)
        if run is None or ids is None or ts is None or (ids < 0).any():
            for i, raw in enumerate(seg.split(b"\n")):
                self._slow_line(raw, first + i)
            return
        lines = np.arange(first, first + n, dtype=np.int64)
        keep = np.ones(n, dtype=bool)
        fams = self.table.family_ids(ids)
        starts = np.concatenate(([0], np.flatnonzero(fams[1:] != fams[:-1]) + 1, [n]))
        for a, b in zip(starts[:-1].tolist(), starts[1:].tolist(), strict=True):
            try:
                self.families.on_samples(self.table.family_names[int(fams[a])])
            except LineError as exc:
                keep[a:b] = False
                for ln in range(first + a, first + b):
                    self.reject(ln, exc.reason, exc.message)
        if not keep.all():
            ids, ts, lines, values = ids[keep], ts[keep], lines[keep], run.values[keep]
        else:
            values = run.values
        self._flush_slow()
        self._add(ids, ts, values, lines)

    def _slow_line(self, raw: bytes, lineno: int) -> None:
        """One line through the exact scanner: comment, metadata, EOF or sample."""
        if self.eof_seen:
            self.reject(lineno, AFTER_EOF, "content after # EOF")
            return
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.reject(lineno, SYNTAX, "invalid UTF-8", exc.start + 1)
            return
        body = text if self.om else text.lstrip(" \t")
        shift = len(text) - len(body)
        try:
            if not body:
                if self.om:
                    raise LineError(SYNTAX, "empty line (not allowed in OpenMetrics)", 1)
                return
            if body.startswith("#"):
                meta = parse_comment(body, self.om)
                if meta is None:
                    return
                if meta[0] == "EOF":
                    self.eof_seen = True
                else:
                    self.families.on_metadata(*meta)
                return
            sample = parse_sample_line(body, self.om)
            ts = sample.timestamp_ms
            if ts is None:
                ts = self.o.default_timestamp_ms
                if ts is None:
                    raise LineError(
                        MISSING_TIMESTAMP, "sample has no timestamp (one is required here)"
                    )
            sid = self.table.add(sample.labels)
            self.families.on_samples(self.table.family_of(sid))
        except LineError as exc:
            col = None if exc.column is None else exc.column + shift
            self.reject(lineno, exc.reason, exc.message, col)
            return
        ids, stamps, values, lines = self._slow
        ids.append(sid)
        stamps.append(ts)
        values.append(sample.value)
        lines.append(lineno)

    def _flush_slow(self) -> None:
        ids, ts, values, lines = self._slow
        if ids:
            self._add(
                np.asarray(ids, dtype=np.int64),
                np.asarray(ts, dtype=np.int64),
                np.asarray(values, dtype=np.float64),
                np.asarray(lines, dtype=np.int64),
            )
            self._slow = ([], [], [], [])

    def _add(
        self, ids: Int64Array, ts: Int64Array, values: Float64Array, lines: Int64Array
    ) -> None:
        if self._limit is not None and len(ts) and int(ts.max()) > self._limit:
            late = ts > self._limit
            ahead = format_duration(self.o.max_future_ms or 0)
            for ln, t in zip(lines[late].tolist(), ts[late].tolist(), strict=True):
                self.reject(
                    ln, FUTURE_TIMESTAMP, f"timestamp {t} is more than {ahead} in the future"
                )
            ok = ~late
            ids, ts, values, lines = ids[ok], ts[ok], values[ok], lines[ok]
        if len(ids):
            self._parts.append((ids, ts, values, lines))

    def reject(self, line: int, reason: str, message: str, column: int | None = None) -> None:
        """Record (lenient) or raise (strict) a problem with one input line."""
        issue = ParseIssue(line, reason, message, column)
        if self.o.strict:
            raise InvalidInput(str(issue))
        self._rejected[reason] += 1
        if len(self._issues) < self.o.max_issues:
            self._issues.append(issue)

    def _emit(self) -> ParsedChunk:
        self._flush_slow()
        if self._parts:
            ids, ts, values, lines = (np.concatenate(col) for col in zip(*self._parts, strict=True))
            if len(lines) > 1 and (lines[1:] < lines[:-1]).any():
                order = np.argsort(lines, kind="stable")
                ids, ts, values = ids[order], ts[order], values[order]
            present = np.zeros(len(self.table), dtype=bool)
            present[ids] = True
            used = np.flatnonzero(present)
            remap = np.zeros(len(self.table), dtype=np.int64)
            remap[used] = np.arange(len(used), dtype=np.int64)
            used_list = used.tolist()
            series = [self.table.labels[i] for i in used_list]
            fams = {self.table.family_of(i) for i in used_list}
            meta = self.families.metadata(fams | self.families.declared_since_flush)
            batch = SampleBatch(series, remap[ids], ts, values, meta)
        else:
            batch = SampleBatch.empty()
            batch.metadata = self.families.metadata(self.families.declared_since_flush)
        self.families.declared_since_flush.clear()
        chunk = ParsedChunk(
            batch, self._start_line, self.line_no, self.bytes_read, self._issues, self._rejected
        )
        self._emitted = True
        self._start_line = self.line_no + 1
        self._reset_chunk()
        if len(self.table) > self.o.max_cached_series:
            self.table.reset()
        return chunk


def _special_starts(block: bytes) -> list[int]:
    """Byte offsets of comment lines (they split the fast-path runs); `#` is found with memchr."""
    found: list[int] = []
    i = block.find(b"#")
    while i >= 0:
        if i == 0 or block[i - 1] == 10:
            found.append(i)
        i = block.find(b"#", i + 1)
    return found
