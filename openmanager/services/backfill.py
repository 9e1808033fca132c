"""Backfill: stream an OpenMetrics or Prometheus text file (with timestamps) into a `Storage`.

The file is parsed leniently in chunks of lines: bad lines are reported with their line
number and skipped, good lines are appended batch by batch, so memory stays bounded and
nothing stored before is touched. The report counts every sample that was not stored.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from openmanager.errors import InvalidInput, NotFound
from openmanager.ingest.exposition_parse import Format, ParseOptions, detect_format, iter_chunks
from openmanager.samples import Labels, SampleBatch
from openmanager.tsdb.storage import AppendResult, Storage

T = TypeVar("T")
Progress = Callable[[int, int], None]
"""Called with (bytes read so far, file size) after every chunk."""

READ_BLOCK_BYTES = 256 * 1024


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
) -> BackfillReport:
    """Import `path` into `storage`; the format is detected (`# EOF` or `.om` -> OpenMetrics)."""
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
    with path.open("rb") as fh:
        for chunk in prefetch(iter_chunks(fh, options)):
            report.lines = chunk.last_line
            report.rejected.update(chunk.rejected)
            _keep(report, (str(i) for i in chunk.issues), max_errors)
            if len(chunk.batch):
                seen.update(chunk.batch.series)
                _store(storage, chunk.batch, report, max_errors)
            if progress is not None:
                progress(chunk.bytes_read, size)
    if flush:
        flush_storage = getattr(storage, "flush", None)
        if callable(flush_storage):
            flush_storage()
    report.series = len(seen)
    report.seconds = time.perf_counter() - started
    return report


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


def _store(storage: Storage, batch: SampleBatch, report: BackfillReport, max_errors: int) -> None:
    report.samples_read += len(batch)
    try:
        result: AppendResult = storage.append(batch)
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
