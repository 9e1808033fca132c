"""One export target on the scheduler: new samples since the last run, in batches, with retries.

Each run exports the samples with cursor < t <= now - delay and moves the cursor on. A batch is
tried `retry_attempts` times (exponential backoff, tenacity) when the target fails in a way worth
retrying; a batch that still fails, or that the target rejects as invalid, is dead-lettered:
counted (status and `/metrics`) with its time span and error, and the run goes on
(`export_range` can send such a span again).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from prometheus_client import Counter
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from openmanager.config.exporters import ExporterSettings
from openmanager.export.base import Exporter, ExportFailed, ExportRejected, Sample
from openmanager.ingest.exposition_write import family_of
from openmanager.samples import METRIC_NAME, is_stale
from openmanager.services.export import ALL_SERIES, parse_selector
from openmanager.tsdb.matchers import Matcher
from openmanager.tsdb.storage import Storage
from openmanager.units import parse_duration

log = logging.getLogger(__name__)

EXPORT_SAMPLES = Counter(
    "openmanager_export_samples_total",
    "Samples handled by exporters, by outcome (sent, skipped, dead_letter).",
    ["exporter", "outcome"],
)
EXPORT_BATCHES = Counter(
    "openmanager_export_batches_total",
    "Batches handled by exporters, by outcome (sent, retried, dead_letter).",
    ["exporter", "outcome"],
)
DEAD_LETTERS_KEPT = 100
"""How many dead-lettered batch descriptions each exporter keeps for its status."""


@dataclass
class DeadLetter:
    """A batch given up on: its time span, size and why."""

    first_ms: int
    last_ms: int
    samples: int
    error: str
    at: float


@dataclass
class ExportStatus:
    """Counters of one exporter for `/api/v1/status/jobs` (and the embedding API)."""

    name: str
    kind: str
    cursor_ms: int | None = None
    sent_samples: int = 0
    sent_batches: int = 0
    skipped_samples: int = 0
    retries: int = 0
    dead_letter_batches: int = 0
    dead_letter_samples: int = 0
    last_error: str | None = None
    dead_letters: deque[DeadLetter] = field(default_factory=lambda: deque(maxlen=DEAD_LETTERS_KEPT))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["dead_letters"] = [asdict(d) for d in self.dead_letters]
        return out


class ExportRunner:
    """Reads new samples from storage and pushes them through one exporter."""

    def __init__(
        self,
        settings: ExporterSettings,
        storage: Storage,
        exporter: Exporter,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.storage = storage
        self.exporter = exporter
        self.clock = clock
        self._sleep = sleep
        self.selectors: list[list[Matcher]] = [parse_selector(m) for m in settings.match] or [
            list(ALL_SERIES)
        ]
        self.delay_ms = parse_duration(settings.delay)
        self.interval_s = parse_duration(settings.interval) / 1000
        self.backoff_s = parse_duration(settings.retry_backoff) / 1000
        self.status = ExportStatus(settings.name, settings.kind)
        self.status.cursor_ms = self._now_ms()  # export what arrives from now on

    @property
    def job_name(self) -> str:
        return f"export:{self.settings.name}"

    def register(self, scheduler: Any) -> None:
        """Add this target's job to the platform's scheduler."""
        scheduler.add(self.job_name, self.interval_s, self.run)

    def run(self) -> int:
        """Scheduler job: export everything newer than the cursor; the number of samples sent."""
        end = self._now_ms()
        start = self.status.cursor_ms if self.status.cursor_ms is not None else end
        if end <= start:
            return 0
        sent = self.export_range(start + 1, end)
        self.status.cursor_ms = end
        return sent

    def export_range(self, start_ms: int, end_ms: int) -> int:
        """Export the samples with start_ms <= t <= end_ms (also for re-sending a dead letter)."""
        sent = 0
        for batch in self._batches(start_ms, end_ms):
            sent += self._deliver(batch)
        return sent

    def close(self) -> None:
        self.exporter.close()

    def _now_ms(self) -> int:
        return int(self.clock() * 1000) - self.delay_ms

    def _samples(self, start_ms: int, end_ms: int) -> list[Sample]:
        metadata = self.storage.metadata()
        seen: set[tuple[tuple[str, str], ...]] = set()
        out: list[Sample] = []
        for matchers in self.selectors:
            for s in self.storage.select(matchers, start_ms, end_ms):
                if s.labels in seen:
                    continue
                seen.add(s.labels)
                name = dict(s.labels).get(METRIC_NAME, "")
                rest = tuple(kv for kv in s.labels if kv[0] != METRIC_NAME)
                meta = metadata.get(family_of(name, metadata))
                kind = meta.type if meta is not None else "unknown"
                keep = ~is_stale(s.values)
                for t, v in zip(s.timestamps[keep].tolist(), s.values[keep].tolist(), strict=True):
                    out.append(Sample(name, rest, t, v, kind))
        out.sort(key=lambda x: x.timestamp_ms)
        return out

    def _batches(self, start_ms: int, end_ms: int) -> Iterator[list[Sample]]:
        samples = self._samples(start_ms, end_ms)
        size = self.settings.batch_size
        for i in range(0, len(samples), size):
            yield samples[i : i + size]

    def _deliver(self, batch: Sequence[Sample]) -> int:
        name = self.settings.name
        retrying = Retrying(
            stop=stop_after_attempt(self.settings.retry_attempts),
            wait=wait_exponential(multiplier=self.backoff_s, max=max(60.0, self.backoff_s)),
            retry=retry_if_exception_type(ExportFailed),
            sleep=self._sleep,
            before_sleep=lambda _state: self._count_retry(),
            reraise=True,
        )
        try:
            written = retrying(self.exporter.send, batch)
        except (ExportFailed, ExportRejected) as exc:
            self._dead_letter(batch, exc.message)
            return 0
        self.status.sent_batches += 1
        self.status.sent_samples += written
        self.status.skipped_samples += len(batch) - written
        self.status.last_error = None
        EXPORT_BATCHES.labels(name, "sent").inc()
        EXPORT_SAMPLES.labels(name, "sent").inc(written)
        EXPORT_SAMPLES.labels(name, "skipped").inc(len(batch) - written)
        return written

    def _count_retry(self) -> None:
        self.status.retries += 1
        EXPORT_BATCHES.labels(self.settings.name, "retried").inc()

    def _dead_letter(self, batch: Sequence[Sample], error: str) -> None:
        st = self.status
        st.dead_letter_batches += 1
        st.dead_letter_samples += len(batch)
        st.last_error = error
        st.dead_letters.append(
            DeadLetter(
                batch[0].timestamp_ms, batch[-1].timestamp_ms, len(batch), error, self.clock()
            )
        )
        EXPORT_BATCHES.labels(self.settings.name, "dead_letter").inc()
        EXPORT_SAMPLES.labels(self.settings.name, "dead_letter").inc(len(batch))
        log.warning(
            "exporter %s: dead-lettered %d samples: %s", self.settings.name, len(batch), error
        )
