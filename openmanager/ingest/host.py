"""The host collector: a `HostSource` read into a `SampleBatch` under node_exporter's names.

Each part (cpu, meminfo, filesystem, netdev, diskstats, loadavg, stat) is a collector like
node_exporter's; one that raises is reported by `node_scrape_collector_success 0` and the
others still produce samples. Every family emitted is in the metric catalogue.
"""

from __future__ import annotations

import logging
import re
import socket
import time
from collections.abc import Callable

import numpy as np

from openmanager import catalog
from openmanager.ingest.host_source import HostSource
from openmanager.samples import SampleBatch, make_labels

log = logging.getLogger(__name__)

Row = tuple[str, dict[str, str], float]

DISK_EXCLUDE = re.compile(r"^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$")
"""node_exporter's default `--collector.diskstats.device-exclude` (partitions, loop, ram)."""


def _cpu(src: HostSource) -> list[Row]:
    return [
        ("node_cpu_seconds_total", {"cpu": str(i), "mode": mode}, value)
        for i, modes in enumerate(src.cpu_times())
        for mode, value in modes.items()
    ]


def _meminfo(src: HostSource) -> list[Row]:
    rows: list[Row] = []
    for field, value in src.memory().items():
        name = f"node_memory_{field}_bytes"
        if name in catalog.CATALOG:
            rows.append((name, {}, value))
    return rows


def _filesystem(src: HostSource) -> list[Row]:
    rows: list[Row] = []
    for fs in src.filesystems():
        labels = {"device": fs.device, "fstype": fs.fstype, "mountpoint": fs.mountpoint}
        rows += [
            ("node_filesystem_size_bytes", labels, fs.size),
            ("node_filesystem_free_bytes", labels, fs.free),
            ("node_filesystem_avail_bytes", labels, fs.avail),
        ]
    return rows


def _netdev(src: HostSource) -> list[Row]:
    names = (
        "node_network_receive_bytes_total",
        "node_network_transmit_bytes_total",
        "node_network_receive_packets_total",
        "node_network_transmit_packets_total",
    )
    return [
        (name, {"device": dev}, value)
        for dev, values in src.network().items()
        for name, value in zip(names, values, strict=True)
    ]


def _diskstats(src: HostSource) -> list[Row]:
    names = (
        "node_disk_read_bytes_total",
        "node_disk_written_bytes_total",
        "node_disk_reads_completed_total",
        "node_disk_writes_completed_total",
        "node_disk_io_time_seconds_total",
    )
    return [
        (name, {"device": dev}, value)
        for dev, values in src.disks().items()
        if not DISK_EXCLUDE.match(dev)
        for name, value in zip(names, values, strict=True)
    ]


def _loadavg(src: HostSource) -> list[Row]:
    one, five, fifteen = src.load()
    return [("node_load1", {}, one), ("node_load5", {}, five), ("node_load15", {}, fifteen)]


def _stat(src: HostSource) -> list[Row]:
    names = {
        "context_switches": "node_context_switches_total",
        "procs_running": "node_procs_running",
        "procs_blocked": "node_procs_blocked",
        "boot_time": "node_boot_time_seconds",
    }
    return [(names[k], {}, v) for k, v in src.stat().items() if k in names]


COLLECTORS: dict[str, Callable[[HostSource], list[Row]]] = {
    "cpu": _cpu,
    "meminfo": _meminfo,
    "filesystem": _filesystem,
    "netdev": _netdev,
    "diskstats": _diskstats,
    "loadavg": _loadavg,
    "stat": _stat,
}


class HostCollector:
    """Reads a host source into batches labelled with `job` and `instance`."""

    def __init__(
        self,
        source: HostSource,
        job: str = "node",
        instance: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.source = source
        self.target = {"job": job, "instance": instance or socket.gethostname()}
        self.clock = clock

    def collect(self) -> SampleBatch:
        """One reading of every collector, timestamped now."""
        ts_ms = int(self.clock() * 1000)
        rows: list[Row] = []
        for name, fn in COLLECTORS.items():
            try:
                found = fn(self.source)
            except (OSError, ValueError, RuntimeError) as exc:
                log.warning("host collector %s failed: %s", name, exc)
                found, ok = [], 0.0
            else:
                ok = 1.0
            rows += found
            rows.append(("node_scrape_collector_success", {"collector": name}, ok))
        series = [make_labels(n, {**labels, **self.target}) for n, labels, _ in rows]
        index = {s: i for i, s in enumerate(dict.fromkeys(series))}
        families = sorted({n for n, _, _ in rows})
        return SampleBatch(
            list(index),
            np.asarray([index[s] for s in series], dtype=np.int64),
            np.full(len(rows), ts_ms, dtype=np.int64),
            np.asarray([v for _, _, v in rows], dtype=np.float64),
            catalog.metadata(families),
        )
