"""The app's own metrics that several layers record (one definition each, for /metrics).

Ingest rate: `rate(openmanager_samples_ingested_total[1m])`; WAL fsync latency, rule group
evaluation time and HTTP request latency are histograms. Query latency lives with the query
service, notification outcomes with delivery, WebSocket clients with the stream hub, memory
with prometheus-client's process collector (`process_resident_memory_bytes`).
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

FAST_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)

SAMPLES_INGESTED = Counter(
    "openmanager_samples_ingested_total", "Samples accepted into storage (every source)."
)
WAL_FSYNC_SECONDS = Histogram(
    "openmanager_wal_fsync_duration_seconds", "Time to fsync a WAL record.", buckets=FAST_BUCKETS
)
RULE_GROUP_SECONDS = Histogram(
    "openmanager_rule_group_duration_seconds",
    "Time to evaluate one rule group.",
    ["group"],
    buckets=FAST_BUCKETS,
)
HTTP_REQUEST_SECONDS = Histogram(
    "openmanager_http_request_duration_seconds",
    "HTTP request latency by route template, method and status code.",
    ["route", "method", "code"],
    buckets=FAST_BUCKETS,
)
