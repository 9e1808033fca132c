"""The fleet's series list: one block per metric family, label combinations x servers, rows in order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from openmanager.catalog import CATALOG, MetricDef
from openmanager.samples import Labels, make_labels
from openmanager.simulate.fleet import Fleet

HIST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
"""Upper bounds (seconds) of the http_request_duration_seconds histogram, +Inf implied."""

CPUS = ("0", "1")
CPU_MODES = ("user", "system", "iowait", "idle")
HTTP_COMBOS = (("GET", "200"), ("GET", "404"), ("GET", "500"), ("POST", "200"), ("POST", "500"))
FILESYSTEMS = (("/dev/vda1", "ext4", "/"), ("/dev/vda2", "xfs", "/data"))

SIMULATED_FAMILIES = (
    "node_cpu_seconds_total",
    "node_memory_MemTotal_bytes",
    "node_memory_MemAvailable_bytes",
    "node_filesystem_size_bytes",
    "node_filesystem_avail_bytes",
    "node_network_receive_bytes_total",
    "node_network_transmit_bytes_total",
    "node_network_receive_packets_total",
    "node_network_transmit_packets_total",
    "node_load1",
    "node_load5",
    "node_load15",
    "node_disk_read_bytes_total",
    "node_disk_written_bytes_total",
    "node_disk_reads_completed_total",
    "node_disk_writes_completed_total",
    "node_disk_io_time_seconds_total",
    "node_context_switches_total",
    "node_procs_running",
    "node_procs_blocked",
    "node_boot_time_seconds",
    "openmanager_service_up",
    "process_start_time_seconds",
    "http_requests_in_flight",
    "http_requests_total",
    "http_request_duration_seconds",
)
"""Catalogue families the simulator emits per server, in series order."""


def le_text(bound: float) -> str:
    """The `le` label value as client libraries write it (`0.5`, `1.0`, `+Inf`)."""
    return "+Inf" if bound == float("inf") else repr(float(bound))


@dataclass(frozen=True)
class Block:
    """Rows [start, stop) of the series list: `combos` label sets x every server, combo-major."""

    family: MetricDef
    sample_name: str
    combos: tuple[tuple[tuple[str, str], ...], ...]
    start: int
    stop: int


def _combos(name: str) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
    """(sample name, extra labels) per row group of a family."""
    if name == "node_cpu_seconds_total":
        return [(name, (("cpu", c), ("mode", m))) for c in CPUS for m in CPU_MODES]
    if name.startswith("node_filesystem_"):
        return [
            (name, (("device", d), ("fstype", f), ("mountpoint", m))) for d, f, m in FILESYSTEMS
        ]
    if name.startswith("node_network_"):
        return [(name, (("device", "eth0"),))]
    if name.startswith("node_disk_"):
        return [(name, (("device", "vda"),))]
    if name == "http_requests_total":
        return [(name, (("method", m), ("status", s))) for m, s in HTTP_COMBOS]
    if name == "http_request_duration_seconds":
        les = [*HIST_BUCKETS, float("inf")]
        out = [(f"{name}_bucket", (("le", le_text(b)),)) for b in les]
        return [*out, (f"{name}_sum", ()), (f"{name}_count", ())]
    return [(name, ())]


def _merge(sample: str, base: Sequence[Labels], extra: Labels) -> list[Labels]:
    """`make_labels(sample, b + extra)` for every b, sorting the label names once for all."""
    if not base:
        return []
    names = [k for k, _ in make_labels(sample, base[0] + extra)]
    if len(names) != len(base[0]) + len(extra) + 1:  # an empty value was dropped: go slowly
        return [make_labels(sample, b + extra) for b in base]
    fixed = dict(extra) | {"__name__": sample}
    pos = {k: i for i, (k, _) in enumerate(base[0])}
    slots = [(k, fixed.get(k), pos.get(k, -1)) for k in names]
    return [tuple((k, b[i][1] if v is None else v) for k, v, i in slots) for b in base]


class Layout:
    """Series labels for every (family, label combination, server), plus the row range of each."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        n = len(fleet)
        self.series: list[Labels] = []
        self.blocks: list[Block] = []
        base_node = [
            (("environment", s.environment), ("instance", s.instance), ("job", "node"),
             ("role", s.role), ("server", s.name))
            for s in fleet
        ]  # fmt: skip
        base_svc = [
            (("environment", s.environment), ("instance", s.service_instance), ("job", "service"),
             ("role", s.role), ("server", s.name))
            for s in fleet
        ]  # fmt: skip
        for fam in (CATALOG[name] for name in SIMULATED_FAMILIES):
            base = base_node if fam.job == "node" else base_svc
            groups = _combos(fam.name)
            by_name: dict[str, list[tuple[tuple[str, str], ...]]] = {}
            for sample, extra in groups:
                by_name.setdefault(sample, []).append(extra)
            for sample, combos in by_name.items():
                start = len(self.series)
                for extra in combos:
                    self.series.extend(_merge(sample, base, extra))
                self.blocks.append(
                    Block(fam, sample, tuple(combos), start, start + n * len(combos))
                )
        self.by_sample = {b.sample_name: b for b in self.blocks}

    def __len__(self) -> int:
        return len(self.series)

    def rows(self, sample_name: str) -> range:
        """The rows of one sample name (all combos, all servers)."""
        b = self.by_sample[sample_name]
        return range(b.start, b.stop)

    def row(self, sample_name: str, server: int, combo: int = 0) -> int:
        """The row of one series: sample name, server index, label combination index."""
        b = self.by_sample[sample_name]
        return b.start + combo * len(self.fleet) + server
