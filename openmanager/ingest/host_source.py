"""Where the host collector reads the machine: a small protocol and its psutil implementation.

Tests inject a fake `HostSource`; the real one reads psutil (and `os.statvfs`, `/proc/stat`
where psutil has no equivalent). Values are raw counters/gauges in node_exporter's units.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import psutil

CPU_MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
"""The modes node_exporter reports in `node_cpu_seconds_total` (guest time is separate)."""


@dataclass(frozen=True)
class FsUsage:
    """One mounted filesystem's size, free and available bytes (statvfs)."""

    device: str
    fstype: str
    mountpoint: str
    size: float
    free: float
    avail: float


class HostSource(Protocol):
    """Readings of the machine; any method may raise OSError (its collector then fails)."""

    def cpu_times(self) -> list[dict[str, float]]:
        """Seconds per CPU mode, one dict per logical CPU."""
        ...

    def memory(self) -> dict[str, float]:
        """meminfo fields in bytes, keyed as node_exporter names them (MemTotal, ...)."""
        ...

    def filesystems(self) -> list[FsUsage]:
        """Mounted local filesystems."""
        ...

    def network(self) -> dict[str, tuple[float, float, float, float]]:
        """Per device: bytes received, bytes sent, packets received, packets sent."""
        ...

    def disks(self) -> dict[str, tuple[float, float, float, float, float]]:
        """Per device: bytes read, bytes written, reads, writes, seconds busy."""
        ...

    def load(self) -> tuple[float, float, float]:
        """Load averages over 1, 5 and 15 minutes."""
        ...

    def stat(self) -> dict[str, float]:
        """context_switches, procs_running, procs_blocked, boot_time."""
        ...


class PsutilSource:
    """The real machine, through psutil."""

    def __init__(self, proc: Path = Path("/proc")) -> None:
        self.proc = proc

    def cpu_times(self) -> list[dict[str, float]]:
        """psutil's per-CPU times, node_exporter's modes."""
        return [
            {m: float(getattr(t, m, 0.0)) for m in CPU_MODES} for t in psutil.cpu_times(percpu=True)
        ]

    def memory(self) -> dict[str, float]:
        """psutil's virtual/swap memory (its `cached` includes SReclaimable on Linux)."""
        vm, sw = psutil.virtual_memory(), psutil.swap_memory()
        return {
            "MemTotal": float(vm.total),
            "MemAvailable": float(vm.available),
            "MemFree": float(vm.free),
            "Cached": float(getattr(vm, "cached", 0.0)),
            "Buffers": float(getattr(vm, "buffers", 0.0)),
            "SwapTotal": float(sw.total),
            "SwapFree": float(sw.free),
        }

    def filesystems(self) -> list[FsUsage]:
        """Physical filesystems (psutil's `all=False`) with statvfs sizes."""
        out = []
        for part in psutil.disk_partitions(all=False):
            try:
                st = os.statvfs(part.mountpoint)
            except OSError:
                continue
            frsize = st.f_frsize
            out.append(
                FsUsage(
                    part.device,
                    part.fstype,
                    part.mountpoint,
                    float(st.f_blocks * frsize),
                    float(st.f_bfree * frsize),
                    float(st.f_bavail * frsize),
                )
            )
        return out

    def network(self) -> dict[str, tuple[float, float, float, float]]:
        """psutil's per-NIC counters."""
        return {
            dev: (
                float(c.bytes_recv),
                float(c.bytes_sent),
                float(c.packets_recv),
                float(c.packets_sent),
            )
            for dev, c in psutil.net_io_counters(pernic=True).items()
        }

    def disks(self) -> dict[str, tuple[float, float, float, float, float]]:
        """psutil's per-disk counters (busy time in ms becomes seconds)."""
        counters = psutil.disk_io_counters(perdisk=True) or {}
        return {
            dev: (
                float(c.read_bytes),
                float(c.write_bytes),
                float(c.read_count),
                float(c.write_count),
                float(getattr(c, "busy_time", 0)) / 1000.0,
            )
            for dev, c in counters.items()
        }

    def load(self) -> tuple[float, float, float]:
        """os.getloadavg()."""
        one, five, fifteen = os.getloadavg()
        return one, five, fifteen

    def stat(self) -> dict[str, float]:
        """Context switches and boot time from psutil; runnable/blocked from /proc/stat."""
        out = {
            "context_switches": float(psutil.cpu_stats().ctx_switches),
            "boot_time": float(psutil.boot_time()),
        }
        stat = self.proc / "stat"
        if stat.exists():
            for line in stat.read_text().splitlines():
                key, _, value = line.partition(" ")
                if key in ("procs_running", "procs_blocked"):
                    out[key] = float(value)
        return out
