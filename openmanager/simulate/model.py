"""Latent per-server signals (busy CPU, memory used, rates, latency...) over a time grid.

Each signal is a pure function of time, the fleet parameters, the seed and the active fault
effects, computed as [servers, time] arrays; the series layer turns them into metrics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from openmanager.simulate import noise
from openmanager.simulate.faults import Effect
from openmanager.simulate.noise import DAY_MS, F64, I64
from openmanager.simulate.profiles import FleetParams

MIN_MS = 60_000
LOAD_TAPS = 60
"""Minutes of CPU history the load averages look back over."""
LOOKBACK_MS = (LOAD_TAPS + 2) * MIN_MS

_MODES = {
    "cpu": "add",
    "err": "add",
    "mem": "toward",
    "disk_data": "toward",
    "net_rx": "mul",
    "disk_write": "mul",
    "latency": "mul",
    "down": "down",
}


@dataclass
class Latents:
    """Signals per server and time: fractions in [0, 1], rates per second, latency in seconds."""

    t: I64
    cpu: F64
    iowait: F64
    mem: F64
    disk_root: F64
    disk_data: F64
    net_rx: F64
    net_tx: F64
    disk_read: F64
    disk_write: F64
    rps: F64
    latency: F64
    err: F64
    up: F64


def apply_effects(arr: F64, channel: str, t: I64, effects: Sequence[Effect]) -> F64:
    """Modify `arr` [servers, time] in place by every effect on `channel`; returns it."""
    mode = _MODES[channel]
    for e in effects:
        if e.channel != channel:
            continue
        p = e.profile(t)
        row = arr[e.server]
        if mode == "add":
            row += e.magnitude * p
        elif mode == "mul":
            row *= 1.0 + e.magnitude * p
        elif mode == "toward":
            row += np.maximum(e.magnitude - row, 0.0) * p
        else:
            row *= np.where(p > 0, 0.0, 1.0)
    return arr


class Model:
    """Computes `Latents` for a fleet; holds only immutable parameters, so any chunking agrees."""

    def __init__(self, params: FleetParams, seed: int) -> None:
        self.p, self.seed = params, seed

    def _smooth(self, stream: int, t: I64, period_ms: int) -> F64:
        return noise.smooth(self.seed, stream, self.p.idx, t, period_ms)

    def _white(self, stream: int, t: I64) -> F64:
        return noise.normal(self.seed, stream, self.p.idx, t)

    def shape(self, t: I64) -> F64:
        """Daily/weekly activity in [0, 1] per server."""
        return noise.seasonal(t, self.p.tz_ms, self.p.phase_h, self.p.weekend)

    def cpu(self, t: I64, effects: Sequence[Effect], shape: F64 | None = None) -> F64:
        """Busy CPU fraction (user + system) per server."""
        p, sh = self.p, self.shape(t) if shape is None else shape
        wobble = 1.0 + 0.15 * self._smooth(1, t, 3_600_000)
        cpu = p.cpu_base[:, None] + p.cpu_amp[:, None] * sh * wobble
        cpu += 0.03 * self._smooth(2, t, 300_000) + 0.012 * self._white(3, t)
        cpu = np.clip(cpu, 0.005, 0.95)
        return np.clip(apply_effects(cpu, "cpu", t, effects), 0.005, 0.985)

    def latents(self, t: I64, effects: Sequence[Effect]) -> Latents:
        """All signals at times `t` (int64 ms) under `effects`."""
        p, sh = self.p, self.shape(t)
        cpu = self.cpu(t, effects, sh)
        io_factor = np.clip((p.disk_read + p.disk_write) / 40e6, 0.05, 2.0)[:, None]
        iowait = np.clip(
            0.004 + 0.02 * io_factor * sh + 0.003 * self._smooth(4, t, 600_000), 0, 0.2
        )
        iowait = np.minimum(iowait, 0.99 - cpu)
        mem = p.mem_base[:, None] + p.mem_amp[:, None] * sh + 0.01 * self._smooth(5, t, 1_800_000)
        mem = np.clip(apply_effects(mem + 0.002 * self._white(6, t), "mem", t, effects), 0.02, 0.99)
        day = t.astype(np.float64)[None, :] / DAY_MS
        rot = (day + p.phase_h[:, None] / 24.0) % 1.0
        disk_root = p.root_used[:, None] + 0.03 * rot
        cycle = (day + 30.0 * noise.per_server(self.seed, 7, p.idx)[:, None]) % 30.0
        disk_data = p.data_used[:, None] + p.data_growth[:, None] * cycle
        disk_data = np.clip(apply_effects(disk_data, "disk_data", t, effects), 0.01, 0.995)
        act = 0.15 + 0.85 * sh
        net_rx = (
            p.net_rx[:, None]
            * act
            * np.exp(0.15 * self._smooth(8, t, 600_000) + 0.05 * self._white(9, t))
        )
        net_tx = p.tx_ratio[:, None] * net_rx * np.exp(0.05 * self._white(10, t))
        net_rx = apply_effects(net_rx, "net_rx", t, effects)
        disk_read = (
            p.disk_read[:, None]
            * act
            * np.exp(0.2 * self._smooth(11, t, 900_000) + 0.1 * self._white(12, t))
        )
        disk_write = (
            p.disk_write[:, None]
            * act
            * np.exp(0.2 * self._smooth(13, t, 900_000) + 0.1 * self._white(14, t))
        )
        disk_write = apply_effects(disk_write, "disk_write", t, effects)
        rps = (
            p.rps[:, None]
            * (0.1 + 0.9 * sh)
            * np.exp(0.1 * self._smooth(15, t, 900_000) + 0.03 * self._white(16, t))
        )
        lat = (
            p.latency_s[:, None]
            * (1.0 + 0.6 * sh)
            * np.exp(0.08 * self._smooth(17, t, 900_000) + 0.05 * self._white(18, t))
        )
        lat = apply_effects(lat, "latency", t, effects)
        err = np.clip(0.002 + 0.001 * self._smooth(19, t, 1_800_000), 0.0, 1.0)
        err = np.clip(apply_effects(err, "err", t, effects), 0.0, 1.0)
        up = apply_effects(np.ones_like(cpu), "down", t, effects)
        return Latents(t, cpu, iowait, mem, disk_root, disk_data, net_rx, net_tx, disk_read,
                       disk_write, rps, lat, err, up)  # fmt: skip

    def loads(self, t: I64, effects: Sequence[Effect]) -> tuple[F64, F64, F64]:
        """load1/5/15: exponentially weighted CPU over the last hour on an absolute minute grid.

        Causal: the value at t interpolates the averages at the two whole minutes before t.
        """
        m = t // MIN_MS
        grid = np.arange(int(m.min()) - LOAD_TAPS - 1, int(m.max()) + 1, dtype=np.int64)
        busy = self.cpu(grid * MIN_MS, effects)
        frac = ((t - m * MIN_MS) / MIN_MS)[None, :]
        q = m - grid[0] - LOAD_TAPS + 1  # index of minute m in the filtered series
        out = []
        for tau in (1.0, 5.0, 15.0):
            w = np.exp(-np.arange(LOAD_TAPS) / tau)
            w /= w.sum()
            n = len(grid) - LOAD_TAPS + 1
            acc = np.zeros((busy.shape[0], n))
            for j in range(LOAD_TAPS):  # fixed tap order: identical sums for any chunking
                acc += w[j] * busy[:, LOAD_TAPS - 1 - j : LOAD_TAPS - 1 - j + n]
            a, b = acc[:, q - 1], acc[:, q]
            out.append(2.0 * 1.1 * (a + (b - a) * frac) + 0.04)
        return out[0], out[1], out[2]
