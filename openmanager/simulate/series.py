"""Turns latent signals into the value of every series, with counters that persist across chunks.

Counters accumulate integer increments (bytes, centiseconds, requests, milliseconds), so
their values are exact whatever the chunking; service counters reset at recorded restarts.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from openmanager.simulate.layout import CPU_MODES, HIST_BUCKETS, Layout
from openmanager.simulate.model import Latents
from openmanager.simulate.noise import F64, I64, norm_cdf
from openmanager.simulate.profiles import FleetParams

PAGE = 4096.0
SIGMA = 0.55
"""Log-normal shape of request latency around its median."""

SERVICE_COUNTERS = frozenset(
    {
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "http_request_duration_seconds_sum",
        "http_request_duration_seconds_count",
    }
)
_SCALE = {
    "node_cpu_seconds_total": 100.0,
    "node_disk_io_time_seconds_total": 1000.0,
    "http_request_duration_seconds_sum": 1000.0,
}
"""Counters kept as integer centiseconds / milliseconds, exposed in seconds."""


def _pages(x: F64) -> F64:
    out: F64 = np.floor(x / PAGE) * PAGE
    return out


def _r2(x: F64) -> F64:
    out: F64 = np.rint(x * 100.0) / 100.0
    return out


class CounterBank:
    """Last value of every counter series, advanced chunk by chunk with resets."""

    def __init__(self) -> None:
        self.state: dict[str, I64] = {}

    def advance(self, name: str, inc: I64, resets: Sequence[tuple[int, int]]) -> I64:
        """Values [combos, servers, time] after adding `inc`; `resets` = (server, time index)."""
        prev = self.state.get(name)
        c = np.cumsum(inc, axis=2)
        if prev is not None:
            c += prev[:, :, None]
        if name in SERVICE_COUNTERS:
            for s, i in resets:
                if i > 0:
                    base = c[:, s, i - 1].copy()
                elif prev is not None:
                    base = prev[:, s]
                else:
                    continue
                c[:, s, i:] -= base[:, None]
        self.state[name] = c[:, :, -1].copy()
        return c


class SeriesBuilder:
    """Fills the [series, time] value matrix of a `Layout` from `Latents`."""

    def __init__(self, layout: Layout, params: FleetParams, start_ms: int) -> None:
        self.layout, self.p = layout, params
        self.bank = CounterBank()
        self.boot_s = np.floor((start_ms - params.node_uptime_ms) / 1000.0)

    def build(
        self,
        lat: Latents,
        loads: tuple[F64, F64, F64],
        dt_node: F64,
        dt_svc: F64,
        resets: Sequence[tuple[int, int]],
        proc_start_s: F64,
    ) -> F64:
        """Values of every series at `lat.t`; dt_* are ms since each series' previous sample."""
        p, n = self.p, len(lat.t)
        out = np.full((len(self.layout), n), np.nan)  # a row left unfilled shows as NaN

        def put(name: str, vals: F64) -> None:
            b = self.layout.by_sample[name]
            out[b.start : b.stop] = vals.reshape(b.stop - b.start, n)

        inc = self._increments(lat, dt_node / 1000.0, dt_svc / 1000.0, dt_node)
        for name, arr in inc.items():
            vals = self.bank.advance(name, arr, resets).astype(np.float64)
            put(name, vals / _SCALE[name] if name in _SCALE else vals)
        mem_total = p.mem_bytes[:, None] * np.ones(n)
        avail = _pages(mem_total * (1.0 - lat.mem))
        put("node_memory_MemTotal_bytes", mem_total[None])
        put("node_memory_MemAvailable_bytes", avail[None])
        size = np.stack([p.root_bytes, p.data_bytes])[:, :, None] * np.ones(n)
        used = np.stack([lat.disk_root, lat.disk_data])
        put("node_filesystem_size_bytes", size)
        put("node_filesystem_avail_bytes", _pages(size * (1.0 - used)))
        for name, ld in zip(("node_load1", "node_load5", "node_load15"), loads, strict=True):
            put(name, _r2(ld)[None])
        put("node_procs_running", np.maximum(1.0, np.rint(1.0 + 2.6 * lat.cpu))[None])
        put("node_procs_blocked", np.rint(12.0 * lat.iowait)[None])
        put("node_boot_time_seconds", (self.boot_s[:, None] * np.ones(n))[None])
        put("openmanager_service_up", lat.up[None])
        put("process_start_time_seconds", _r2(proc_start_s)[None])
        inflight = np.rint(lat.rps * lat.up * lat.latency * np.exp(SIGMA**2 / 2))
        put("http_requests_in_flight", inflight[None])
        return out

    def _increments(self, lat: Latents, dt_s: F64, dts_s: F64, dt_ms: F64) -> dict[str, I64]:
        """Integer increments [combos, servers, time] of every counter over each sample's dt."""
        p = self.p

        def ri(x: F64) -> I64:
            return np.rint(x).astype(np.int64)

        cs = ri(dt_ms / 10.0)
        cpu_rows: list[I64] = []
        for share in (p.cpu_skew, 1.0 - p.cpu_skew):
            busy = np.clip(lat.cpu * 2.0 * share[:, None], 0.0, 0.99)
            io = np.minimum(lat.iowait, 0.995 - busy)
            user, system, iowait = ri(0.68 * busy * cs), ri(0.32 * busy * cs), ri(io * cs)
            idle = np.maximum(cs - user - system - iowait, 0)
            modes = {"user": user, "system": system, "iowait": iowait, "idle": idle}
            cpu_rows.extend(modes[m] for m in CPU_MODES)
        rx, tx = ri(lat.net_rx * dt_s), ri(lat.net_tx * dt_s)
        rd = ri(lat.disk_read * dt_s / 512.0) * 512
        wr = ri(lat.disk_write * dt_s / 512.0) * 512
        util = np.clip((lat.disk_read + lat.disk_write) / 180e6 + 0.01, 0.0, 1.0)
        served = lat.rps * lat.up * dts_s
        ok, err = 1.0 - lat.err, lat.err
        http = [
            ri(served * f)
            for f in (0.75 * ok * 0.98, 0.75 * ok * 0.02, 0.75 * err, 0.25 * ok, 0.25 * err)
        ]
        count = np.sum(http, axis=0)
        ln_med = np.log(lat.latency)
        buckets = [
            np.minimum(count, ri(count * norm_cdf((np.log(b) - ln_med) / SIGMA)))
            for b in HIST_BUCKETS
        ]
        bucket_arr = np.maximum.accumulate(np.stack([*buckets, count]), axis=0)
        mean_ms = lat.latency * np.exp(SIGMA**2 / 2) * 1000.0
        return {
            "node_cpu_seconds_total": np.stack(cpu_rows),
            "node_network_receive_bytes_total": rx[None],
            "node_network_transmit_bytes_total": tx[None],
            "node_network_receive_packets_total": ri(rx / 940.0)[None],
            "node_network_transmit_packets_total": ri(tx / 1120.0)[None],
            "node_disk_read_bytes_total": rd[None],
            "node_disk_written_bytes_total": wr[None],
            "node_disk_reads_completed_total": ri(rd / 24576.0)[None],
            "node_disk_writes_completed_total": ri(wr / 12288.0)[None],
            "node_disk_io_time_seconds_total": ri(util * dt_ms)[None],
            "node_context_switches_total": ri((1500.0 + 24000.0 * lat.cpu) * dt_s)[None],
            "http_requests_total": np.stack(http),
            "http_request_duration_seconds_bucket": bucket_arr,
            "http_request_duration_seconds_sum": ri(count * mean_ms)[None],
            "http_request_duration_seconds_count": count[None],
        }
