"""The one metric catalogue: name, type, unit and help of every metric OpenManager emits.

The simulator, the host collector, the expositions and the dashboard read it, so a metric's
metadata is declared here once. Names follow node_exporter wherever it has the metric.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from openmanager.samples import SeriesMeta

COMMON_LABELS = ("instance", "job", "server", "environment", "role")
"""Labels every simulated or collected series carries."""

CAMELCASE_NODE_EXPORTER = frozenset(
    {
        "node_memory_MemTotal_bytes",
        "node_memory_MemAvailable_bytes",
        "node_memory_Cached_bytes",
        "node_memory_Buffers_bytes",
    }
)
"""node_exporter's meminfo names: `promtool check metrics` flags their camelCase; kept for compatibility."""


@dataclass(frozen=True)
class MetricDef:
    """One metric family; `name` is the family as text format 0.0.4 names it (counters keep `_total`)."""

    name: str
    type: str
    help: str
    unit: str = ""
    labels: tuple[str, ...] = ()
    job: str = "node"

    @property
    def meta(self) -> SeriesMeta:
        """The metadata carried by sample batches."""
        return SeriesMeta(type=self.type, help=self.help, unit=self.unit)


def _d(
    name: str,
    type_: str,
    help_: str,
    unit: str = "",
    labels: tuple[str, ...] = (),
    job: str = "node",
) -> MetricDef:
    return MetricDef(name, type_, help_, unit, labels, job)


_DEFS = (
    _d(
        "node_cpu_seconds_total",
        "counter",
        "Seconds the CPUs spent in each mode.",
        "seconds",
        ("cpu", "mode"),
    ),
    _d("node_memory_MemTotal_bytes", "gauge", "Memory information field MemTotal_bytes.", "bytes"),
    _d(
        "node_memory_MemAvailable_bytes",
        "gauge",
        "Memory information field MemAvailable_bytes.",
        "bytes",
    ),
    _d("node_memory_Cached_bytes", "gauge", "Memory information field Cached_bytes.", "bytes"),
    _d("node_memory_Buffers_bytes", "gauge", "Memory information field Buffers_bytes.", "bytes"),
    _d(
        "node_filesystem_size_bytes",
        "gauge",
        "Filesystem size in bytes.",
        "bytes",
        ("device", "fstype", "mountpoint"),
    ),
    _d(
        "node_filesystem_avail_bytes",
        "gauge",
        "Filesystem space available to non-root users in bytes.",
        "bytes",
        ("device", "fstype", "mountpoint"),
    ),
    _d(
        "node_network_receive_bytes_total",
        "counter",
        "Network device statistic receive_bytes.",
        "bytes",
        ("device",),
    ),
    _d(
        "node_network_transmit_bytes_total",
        "counter",
        "Network device statistic transmit_bytes.",
        "bytes",
        ("device",),
    ),
    _d(
        "node_network_receive_packets_total",
        "counter",
        "Network device statistic receive_packets.",
        "",
        ("device",),
    ),
    _d(
        "node_network_transmit_packets_total",
        "counter",
        "Network device statistic transmit_packets.",
        "",
        ("device",),
    ),
    _d("node_load1", "gauge", "1m load average."),
    _d("node_load5", "gauge", "5m load average."),
    _d("node_load15", "gauge", "15m load average."),
    _d(
        "node_disk_read_bytes_total",
        "counter",
        "The total number of bytes read successfully.",
        "bytes",
        ("device",),
    ),
    _d(
        "node_disk_written_bytes_total",
        "counter",
        "The total number of bytes written successfully.",
        "bytes",
        ("device",),
    ),
    _d(
        "node_disk_reads_completed_total",
        "counter",
        "The total number of reads completed successfully.",
        "",
        ("device",),
    ),
    _d(
        "node_disk_writes_completed_total",
        "counter",
        "The total number of writes completed successfully.",
        "",
        ("device",),
    ),
    _d(
        "node_disk_io_time_seconds_total",
        "counter",
        "Total seconds spent doing I/Os.",
        "seconds",
        ("device",),
    ),
    _d("node_context_switches_total", "counter", "Total number of context switches."),
    _d("node_procs_running", "gauge", "Number of processes in runnable state."),
    _d("node_procs_blocked", "gauge", "Number of processes blocked waiting for I/O to complete."),
    _d("node_boot_time_seconds", "gauge", "Node boot time, in unixtime.", "seconds"),
    _d("node_memory_MemFree_bytes", "gauge", "Memory information field MemFree_bytes.", "bytes"),
    _d(
        "node_memory_SwapTotal_bytes", "gauge", "Memory information field SwapTotal_bytes.", "bytes"
    ),
    _d("node_memory_SwapFree_bytes", "gauge", "Memory information field SwapFree_bytes.", "bytes"),
    _d(
        "node_filesystem_free_bytes",
        "gauge",
        "Filesystem free space in bytes.",
        "bytes",
        ("device", "fstype", "mountpoint"),
    ),
    _d(
        "node_scrape_collector_success",
        "gauge",
        "node_exporter: Whether a collector succeeded.",
        labels=("collector",),
    ),
    _d(
        "openmanager_service_up",
        "gauge",
        "Whether the server's main service is up (1) or down (0).",
        job="service",
    ),
    _d(
        "process_start_time_seconds",
        "gauge",
        "Start time of the service process since unix epoch in seconds.",
        "seconds",
        job="service",
    ),
    _d(
        "http_requests_in_flight",
        "gauge",
        "Requests currently being served.",
        job="service",
    ),
    _d(
        "http_requests_total",
        "counter",
        "HTTP requests served, by method and status code.",
        "",
        ("method", "status"),
        job="service",
    ),
    _d(
        "http_request_duration_seconds",
        "histogram",
        "HTTP request latency.",
        "seconds",
        ("le",),
        job="service",
    ),
)

CATALOG: Mapping[str, MetricDef] = {d.name: d for d in _DEFS}
"""Every metric family by its text-format name."""

_SUFFIXES = ("_bucket", "_sum", "_count", "_created")


def family_of(sample_name: str) -> MetricDef | None:
    """The catalogue entry a sample name belongs to (`x_bucket` -> histogram `x`), or None."""
    if sample_name in CATALOG:
        return CATALOG[sample_name]
    for suffix in _SUFFIXES:
        if sample_name.endswith(suffix):
            d = CATALOG.get(sample_name[: -len(suffix)])
            if d is not None and d.type in ("histogram", "summary"):
                return d
    return None


def metadata(names: list[str] | None = None) -> dict[str, SeriesMeta]:
    """Metadata keyed by family name, for all families or the named ones."""
    defs = CATALOG.values() if names is None else (CATALOG[n] for n in names)
    return {d.name: d.meta for d in defs}
