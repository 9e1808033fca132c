"""Value types of the exposition parser: options, issues (with line and column) and chunks."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from openmanager.samples import SampleBatch

Format = Literal["text", "openmetrics"]
"""`text` is Prometheus text 0.0.4 (timestamps in ms); `openmetrics` is OpenMetrics 1.0 (seconds)."""

# Reasons a line or sample is rejected; the backfill report counts rejections by these keys.
SYNTAX = "syntax"
INVALID_METRIC_NAME = "invalid_metric_name"
INVALID_LABEL_NAME = "invalid_label_name"
INVALID_LABEL_VALUE = "invalid_label_value"
DUPLICATE_LABEL = "duplicate_label"
INVALID_VALUE = "invalid_value"
INVALID_TIMESTAMP = "invalid_timestamp"
MISSING_TIMESTAMP = "missing_timestamp"
FUTURE_TIMESTAMP = "too_far_in_future"
INVALID_METADATA = "invalid_metadata"
INTERLEAVED_FAMILY = "interleaved_family"
AFTER_EOF = "after_eof"
MISSING_EOF = "missing_eof"


@dataclass(frozen=True)
class ParseOptions:
    """How to parse: format, strictness, batch size and the checks that depend on the clock."""

    format: Format = "text"
    strict: bool = True
    """Strict raises InvalidInput on the first bad line; lenient records issues and skips lines."""
    chunk_lines: int = 100_000
    """Each yielded batch holds the samples of at most this many consecutive input lines."""
    default_timestamp_ms: int | None = None
    """Timestamp of samples without one (a scrape's time); None makes a missing timestamp an error."""
    max_future_ms: int | None = None
    """Reject samples more than this far past `now_ms()`; None disables the check."""
    now_ms: Callable[[], int] | None = None
    """The clock for the future check (injected in tests); defaults to the wall clock."""
    max_issues: int = 1000
    """Issues kept per chunk in lenient mode; all are still counted in `ParsedChunk.rejected`."""
    block_bytes: int = 256 * 1024
    """Bytes read per step; small enough to stay in CPU cache, large enough to amortise overhead."""
    fast_path: bool = True
    """Take runs of plain sample lines in bulk; off, every line goes through the exact scanner."""
    max_cached_series: int = 2_000_000
    """The series-text cache is cleared when it grows past this (bounds memory on huge files)."""


@dataclass(frozen=True)
class ParseIssue:
    """One rejected line or sample: where (1-based line, column) and what is wrong."""

    line: int
    reason: str
    message: str
    column: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}" if self.column is None else f"line {self.line}:{self.column}"
        return f"{where}: {self.message}"


@dataclass
class ParsedChunk:
    """The samples of a range of input lines, plus what was rejected in that range."""

    batch: SampleBatch
    first_line: int
    last_line: int
    bytes_read: int
    """Bytes of input consumed so far (for progress bars), not only by this chunk."""
    issues: list[ParseIssue] = field(default_factory=list)
    rejected: Counter[str] = field(default_factory=Counter)
    """Rejected lines or samples by reason (every one, even past `max_issues`)."""


class LineError(Exception):
    """Internal: raised by the line scanner; turned into a ParseIssue by the driver."""

    def __init__(self, reason: str, message: str, column: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.column = column
