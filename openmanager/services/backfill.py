"""Backfill: stream an OpenMetrics or Prometheus text file (with timestamps) into a `Storage`.

The file is parsed leniently in chunks of lines: bad lines are reported with their line
number and skipped, good lines are stored batch by batch, and nothing stored before is touched.
The report counts every sample that was not stored.

On the embedded store, history older than the head goes through a bulk import session
(`EmbeddedStorage.bulk_import`): no WAL and no head, large blocks written once at the end
(durable when `backfill` returns); newer samples take the normal WAL path. Other backends get
plain `append` calls batch by batch.
"""

from __future__ import annotations

import bisect
import dataclasses
import mmap
import multiprocessing
import os
import pickle
import queue
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.pool import AsyncResult
from multiprocessing.pool import Pool as PoolType
from pathlib import Path
from typing import NamedTuple, TypeVar

from openmanager.errors import InvalidInput, NotFound
from openmanager.ingest.exposition_parse import (
    Format,
    ParsedChunk,
    ParseOptions,
    detect_format,
    iter_chunks,
)
from openmanager.ingest.parse_driver import ChunkParser
from openmanager.ingest.parse_family import Event, FamilyTracker, TracingFamilyTracker, replay
from openmanager.ingest.parse_types import MISSING_EOF
from openmanager.samples import Labels, SampleBatch
from openmanager.tsdb.bulk import ImportSummary
from openmanager.tsdb.engine import EmbeddedStorage
from openmanager.tsdb.storage import AppendResult, Storage

T = TypeVar("T")
Progress = Callable[[int, int], None]
"""Called with (bytes read so far, file size) after every chunk."""

READ_BLOCK_BYTES = 256 * 1024
PARALLEL_MIN_BYTES = 64 << 20
"""Files smaller than this are parsed in one reader thread (worker start-up would dominate)."""
SEGMENT_BYTES = 16 << 20
MAX_WORKERS = 4


@dataclass
class BackfillReport:
    """What a backfill did: read, stored, rejected by reason, the first errors, and speed."""

    path: str
    format: Format
    bytes: int = 0
    lines: int = 0
    samples_read: int = 0
    samples_stored: int = 0
    duplicates: int = 0
    series: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    """Rejected lines (parse) and samples (storage) by reason."""
    errors: list[str] = field(default_factory=list)
    """The first `max_errors` messages, each naming its line (parse) or series (storage)."""
    seconds: float = 0.0

    @property
    def rejected_total(self) -> int:
        """Every line or sample not stored, whatever the reason."""
        return sum(self.rejected.values())

    @property
    def samples_per_second(self) -> float:
        """Samples read per second of wall time."""
        return self.samples_read / self.seconds if self.seconds > 0 else 0.0


def backfill(
    storage: Storage,
    path: Path,
    *,
    format: Format | None = None,
    chunk_lines: int = 1_000_000,
    max_future_ms: int | None = None,
    now_ms: Callable[[], int] | None = None,
    progress: Progress | None = None,
    max_errors: int = 100,
    flush: bool = True,
    bulk: bool = True,
    observe: Callable[[SampleBatch], None] | None = None,
    workers: int | None = None,
) -> BackfillReport:
    """Import `path` into `storage`; the format is detected (`# EOF` or `.om` -> OpenMetrics).

    `bulk=False` sends everything through `append` (WAL and head); `observe` sees every parsed
    batch before it is stored (benchmarks digest them). Files of PARALLEL_MIN_BYTES or more are
    parsed by `workers` processes (default: one per CPU, at most MAX_WORKERS), segment by segment.
    """
    if not path.is_file():
        raise NotFound(f"backfill file {str(path)!r} does not exist or is not a file")
    fmt = format or detect_format(path)
    size = path.stat().st_size
    report = BackfillReport(str(path), fmt, bytes=size)
    options = ParseOptions(
        format=fmt,
        strict=False,
        chunk_lines=chunk_lines,
        max_future_ms=max_future_ms,
        now_ms=now_ms,
        max_issues=max_errors,
        block_bytes=READ_BLOCK_BYTES,
    )
    seen: set[Labels] = set()
    started = time.perf_counter()
    session = storage.bulk_import() if bulk and isinstance(storage, EmbeddedStorage) else None
    sink: Callable[[SampleBatch], AppendResult] = storage.append if session is None else session.add
    with parsed_chunks(path, options, workers) as chunks:
        for chunk in chunks:
            report.lines = chunk.last_line
            report.rejected.update(chunk.rejected)
            _keep(report, (str(i) for i in chunk.issues), max_errors)
            if len(chunk.batch):
                seen.update(chunk.batch.series)
                if observe is not None:
                    observe(chunk.batch)
                _store(sink, chunk.batch, report, max_errors)
            if progress is not None:
                progress(chunk.bytes_read, size)
    if session is not None:
        _settle(report, session.commit(), max_errors)
    if flush:
        flush_storage = getattr(storage, "flush", None)
        if callable(flush_storage):
            flush_storage()
    report.series = len(seen)
    report.seconds = time.perf_counter() - started
    return report


class Segment(NamedTuple):
    """A byte range of the input and the descriptor lines to parse it behind."""

    start: int
    end: int
    preamble: bytes


@contextmanager
def parsed_chunks(
    path: Path, options: ParseOptions, workers: int | None = None
) -> Iterator[Iterator[ParsedChunk]]:
    """Parsed chunks of a file in order: in a reader thread, or in worker processes when big.

    Segments end at newlines; each worker parses one segment at a time behind its family's
    descriptor lines, and the parent checks each segment's family answers against the true
    state before handing its chunks on (`_joined`). Only the last segment must end in `# EOF`.
    """
    size = path.stat().st_size
    n = min(os.cpu_count() or 1, MAX_WORKERS) if workers is None else workers
    forkable = "fork" in multiprocessing.get_all_start_methods()
    if n <= 1 or size < PARALLEL_MIN_BYTES or not forkable or not _picklable(options):
        with path.open("rb") as fh:
            yield prefetch(iter_chunks(fh, options))
        return
    segments = _segments(path, size, max(SEGMENT_BYTES, size // (64 * n)))
    if segments is None:  # `# EOF` before the end: the serial parser rejects what follows it
        with path.open("rb") as fh:
            yield prefetch(iter_chunks(fh, options))
        return
    jobs = [(str(path), seg, options, seg.end >= size) for seg in segments]
    ctx = multiprocessing.get_context("fork")  # workers only parse: no main-module re-import
    with ctx.Pool(n) as pool:
        yield _joined(_bounded_map(pool, jobs, 2 * n), segments, path, options, pool)


def _bounded_map(
    pool: PoolType, jobs: list[tuple[str, Segment, ParseOptions, bool]], depth: int
) -> Iterator[tuple[list[ParsedChunk], list[Event]]]:
    """`pool.imap` in order, with at most `depth` segments parsed ahead (bounded memory)."""
    pending: deque[AsyncResult[tuple[list[ParsedChunk], list[Event]]]] = deque()
    for job in jobs:
        pending.append(pool.apply_async(_parse_segment, (job,)))
        if len(pending) >= depth:
            yield pending.popleft().get()
    while pending:
        yield pending.popleft().get()


def _picklable(options: ParseOptions) -> bool:
    try:
        pickle.dumps(options)
    except (pickle.PicklingError, AttributeError, TypeError):
        return False
    return True


def _segments(path: Path, size: int, target: int) -> list[Segment] | None:
    """Byte ranges of about `target` bytes, each ending just after a newline, with the
    descriptor lines (`# TYPE`, `# HELP`, ...) of the family in effect where each one starts;
    None when a `# EOF` line comes before the end (segments could not see it)."""
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        descriptors: list[tuple[int, int]] = []  # (start, end after newline) of "# " lines
        at = _next_descriptor(mm, 0)
        while at >= 0:
            end = mm.find(b"\n", at)
            end = size if end < 0 else end + 1
            descriptors.append((at, end))
            at = _next_descriptor(mm, end)
        if any(_early_eof(mm, a, b, size) for a, b in descriptors):
            return None
        starts = [d[0] for d in descriptors]
        cuts = [0]
        while cuts[-1] + target < size:
            nl = mm.find(b"\n", cuts[-1] + target)
            if nl < 0 or nl + 1 >= size:
                break
            cuts.append(nl + 1)
        cuts.append(size)
        out = []
        for a, b in zip(cuts[:-1], cuts[1:], strict=True):
            out.append(
                Segment(
                    a, b, b"" if mm[a : a + 2] == b"# " else _preamble(mm, descriptors, starts, a)
                )
            )
        return out


_NON_BLANK = re.compile(rb"\S")
_MAX_STRAY_HASHES = 64
"""`#` bytes inside lines skipped one by one before `_next_descriptor` searches differently."""


def _next_descriptor(mm: mmap.mmap, at: int) -> int:
    """Offset of the first line at or after `at` (a line start) that begins with `# `, or -1.

    Finds `#` with memchr and checks its neighbours: several times faster over a big file than
    searching for the three bytes newline, `#`, space (the scan runs before any worker starts).
    Input with many `#` inside lines goes back to the three-byte search.
    """
    for _ in range(_MAX_STRAY_HASHES):
        at = mm.find(b"#", at)
        if at < 0:
            return -1
        if (at == 0 or mm[at - 1] == 10) and mm[at + 1 : at + 2] == b" ":
            return at
        at += 1
    found = mm.find(b"\n# ", at - 1)
    return found + 1 if found >= 0 else -1


def _early_eof(mm: mmap.mmap, start: int, end: int, size: int) -> bool:
    """Whether the line at [start, end) is `# EOF` with more than blank space after it."""
    return mm[start:end].rstrip() == b"# EOF" and _NON_BLANK.search(mm, end, size) is not None


def _preamble(
    mm: mmap.mmap, descriptors: list[tuple[int, int]], starts: list[int], cut: int
) -> bytes:
    """The run of consecutive descriptor lines last seen before `cut` (the current family's)."""
    k = bisect.bisect_left(starts, cut) - 1
    if k < 0:
        return b""
    first = k
    while first > 0 and descriptors[first - 1][1] == descriptors[first][0]:
        first -= 1
    return bytes(mm[descriptors[first][0] : descriptors[k][1]])


def _parse_segment(
    job: tuple[str, Segment, ParseOptions, bool],
) -> tuple[list[ParsedChunk], list[Event]]:
    """Worker: parse one segment behind its family's descriptor lines, tracing the family
    state's answers (the parent checks them); a non-final segment does not need `# EOF`."""
    path, seg, options, last = job
    with open(path, "rb") as fh:
        fh.seek(seg.start)
        data = fh.read(seg.end - seg.start)
    families = TracingFamilyTracker(options.format == "openmetrics")
    parser = ChunkParser(options, families)
    if seg.preamble:
        parser.take_preamble(seg.preamble.rstrip(b"\n"))
    events: list[Event] = []
    families.events = events
    chunks = list(iter_chunks(data, options, parser))
    if not last:
        for c in chunks:
            c.issues = [i for i in c.issues if i.reason != MISSING_EOF]
            c.rejected.pop(MISSING_EOF, None)
    return chunks, events


def _joined(
    results: Iterator[tuple[list[ParsedChunk], list[Event]]],
    segments: list[Segment],
    path: Path,
    options: ParseOptions,
    pool: PoolType,
) -> Iterator[ParsedChunk]:
    """Chunks with file-wide line numbers and byte counts, in file order, checked segment by
    segment against the family state one reader would have there (`replay`), before any is
    handed on. From the first segment that does not match (interleaved families, a preamble
    that is not the state in effect, ...) the rest of the file is parsed by one reader that
    starts from the true state, so the result is exactly the serial one and nothing twice."""
    families = FamilyTracker(options.format == "openmetrics")
    lines = 0
    for (chunks, events), seg in zip(results, segments, strict=True):
        before = families.copy()
        metas = replay(families, events)
        if metas is None or len(metas) != len(chunks):
            pool.terminate()
            parser = ChunkParser(options, before)
            parser.resume_at(lines, seg.start)
            with path.open("rb") as fh:
                fh.seek(seg.start)
                yield from iter_chunks(fh, options, parser)
            return
        for c, meta in zip(chunks, metas, strict=True):
            c.batch.metadata = meta
            if c.issues:
                c.issues = [dataclasses.replace(i, line=i.line + lines) for i in c.issues]
            c.first_line += lines
            c.last_line += lines
            c.bytes_read += seg.start
            yield c
        if chunks:
            lines = chunks[-1].last_line


def prefetch(items: Iterator[T], depth: int = 1) -> Iterator[T]:
    """Run `items` in a thread, `depth` ahead: parsing overlaps the storage's fsync waits."""
    box: queue.Queue[tuple[bool, object]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        box.put((True, item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            box.put((False, None))
        except BaseException as exc:  # handed to the consumer, raised there
            box.put((False, exc))

    worker = threading.Thread(target=produce, name="backfill-parse", daemon=True)
    worker.start()
    try:
        while True:
            more, item = box.get()
            if not more:
                if isinstance(item, BaseException):
                    raise item
                return
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()


def _settle(report: BackfillReport, summary: ImportSummary, max_errors: int) -> None:
    """Fold in what a bulk import found at commit: duplicates and conflicting values."""
    report.samples_stored -= summary.duplicates + summary.conflicts
    report.duplicates += summary.duplicates
    if summary.conflicts:
        report.rejected["out_of_order"] += summary.conflicts
    _keep(report, summary.errors, max_errors)


def _store(
    sink: Callable[[SampleBatch], AppendResult],
    batch: SampleBatch,
    report: BackfillReport,
    max_errors: int,
) -> None:
    report.samples_read += len(batch)
    try:
        result: AppendResult = sink(batch)
    except InvalidInput as exc:  # the whole batch was refused: count it, keep going
        report.rejected["storage_refused"] += len(batch)
        _keep(report, [f"lines of this chunk refused by storage: {exc.message}"], max_errors)
        return
    report.samples_stored += result.accepted
    report.duplicates += result.duplicates
    for reason in ("out_of_order", "too_old", "too_far_in_future"):
        count = getattr(result, reason)
        if count:
            report.rejected[reason] += count
    unaccounted = len(batch) - result.accepted - result.duplicates - result.rejected
    if unaccounted > 0:  # samples of series the storage refused (counted per series there)
        report.rejected["invalid_series"] += unaccounted
    _keep(report, result.errors, max_errors)


def _keep(report: BackfillReport, messages: object, max_errors: int) -> None:
    for msg in messages:  # type: ignore[attr-defined]
        if len(report.errors) >= max_errors:
            return
        report.errors.append(str(msg))
