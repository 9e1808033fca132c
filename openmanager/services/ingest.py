"""Remote-write ingestion: decode a request, append it durably, count every sample's outcome.

Status codes and messages mirror Prometheus's `storage/remote/write_handler.go`: a payload that
does not decode is `400` with the decoder's reason; samples the store refuses as out of order,
out of bounds (too old or too far in the future) are `400` ("out of order sample", "out of
bounds") so senders do not retry them. Prometheus rolls the whole request back in that case;
the embedded store has already kept the accepted samples, which the message reports.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import Counter

from openmanager.errors import InvalidInput
from openmanager.ingest.remote_write import LabelCache, decode_write_request
from openmanager.tsdb.storage import AppendResult, Storage

SAMPLES = Counter(
    "openmanager_remote_write_samples",
    "Remote-write samples received, by outcome.",
    ["outcome"],
)
REQUESTS = Counter(
    "openmanager_remote_write_requests",
    "Remote-write requests received, by HTTP status code.",
    ["code"],
)


class RejectedSamples(InvalidInput):
    """Some samples of a request were refused by the store (out of order or out of bounds)."""


@dataclass
class RemoteWriteReceiver:
    """Decodes and stores remote-write requests; one per app (it owns the label cache)."""

    storage: Storage

    def __post_init__(self) -> None:
        self.cache = LabelCache()

    def receive(self, body: bytes) -> AppendResult:
        """Store one request; InvalidInput (400) when malformed or when samples are refused."""
        try:
            batch = decode_write_request(body, self.cache)
        except InvalidInput:
            REQUESTS.labels("400").inc()
            raise
        result = self.storage.append(batch)
        _count(result)
        if result.rejected:
            REQUESTS.labels("400").inc()
            raise RejectedSamples(describe_rejection(result))
        REQUESTS.labels("204").inc()
        return result


def _count(result: AppendResult) -> None:
    for outcome, n in (
        ("accepted", result.accepted),
        ("duplicate", result.duplicates),
        ("out_of_order", result.out_of_order),
        ("too_old", result.too_old),
        ("too_far_in_future", result.too_far_in_future),
    ):
        if n:
            SAMPLES.labels(outcome).inc(n)


def describe_rejection(result: AppendResult) -> str:
    """Prometheus's error text first ("out of order sample" / "out of bounds"), then counts."""
    head = "out of order sample" if result.out_of_order else "out of bounds"
    return (
        f"{head}: {result.out_of_order} out of order, {result.too_old} too old, "
        f"{result.too_far_in_future} too far in the future; {result.accepted} samples accepted"
    )
