"""The fleet simulator: deterministic samples for every server, fault injection and ground truth.

Everything but the counters is a pure function of (seed, time), and counters add integer
increments, so a range gives identical samples whether produced in one call or many.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from openmanager import catalog
from openmanager.config.settings import SimulatorSettings
from openmanager.errors import Conflict, InvalidInput
from openmanager.ingest.exposition_write import render_text
from openmanager.samples import Labels, SampleBatch, SeriesMeta
from openmanager.simulate.faults import Effect, FaultRecord, GroundTruth
from openmanager.simulate.fleet import Fleet, build_fleet
from openmanager.simulate.layout import SIMULATED_FAMILIES, Layout
from openmanager.simulate.model import LOOKBACK_MS, Latents, Model
from openmanager.simulate.noise import F64, HOUR_MS, I64
from openmanager.simulate.profiles import draw_params
from openmanager.simulate.scenarios import MAX_FAULT_MS, get_scenario, plan_fault, scheduled_faults
from openmanager.simulate.series import SIGMA, SeriesBuilder
from openmanager.simulate.snapshot import FleetSnapshot, ServerSnapshot, judge
from openmanager.units import parse_duration

DEFAULT_CHUNK_MS = 6 * HOUR_MS
MAX_FRAME_VALUES = 16_000_000
"""Frames are cut shorter than `chunk_ms` when a big fleet would exceed this many values."""


def wall_clock_ms() -> int:
    """Current Unix time in ms (the default clock)."""
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class Frame:
    """Values of every series (rows, in `Simulator.series` order) at `timestamps` (columns)."""

    timestamps: I64
    values: F64


class Simulator:
    """A simulated fleet; call `tick` once per scrape or `generate` to produce history fast.

    The fleet is the default one sized by `settings.servers`, or a custom `fleet`.
    """

    def __init__(
        self,
        settings: SimulatorSettings | None = None,
        start_ms: int | None = None,
        clock: Callable[[], int] = wall_clock_ms,
        fleet: Fleet | None = None,
    ) -> None:
        self.settings = settings or SimulatorSettings()
        self.seed = self.settings.seed
        self.interval_ms = parse_duration(self.settings.interval)
        if self.interval_ms <= 0:
            raise InvalidInput(
                f"simulator interval must be positive, got {self.settings.interval!r}"
            )
        self.clock = clock
        now = clock() if start_ms is None else start_ms
        self.start_ms = now - now % self.interval_ms if start_ms is None else start_ms
        self.fleet: Fleet = build_fleet(self.settings.servers) if fleet is None else fleet
        self.params = draw_params(self.fleet, self.seed)
        self.model = Model(self.params, self.seed)
        self.layout = Layout(self.fleet)
        self.metadata: dict[str, SeriesMeta] = catalog.metadata(list(SIMULATED_FAMILIES))
        self._builder = SeriesBuilder(self.layout, self.params, self.start_ms)
        self._series_ref = np.arange(len(self.layout), dtype=np.int64)
        self._hours: dict[int, list[FaultRecord]] = {}
        self._manual: list[FaultRecord] = []
        self._last_t: int | None = None
        self._last_values: F64 | None = None
        self._last_lat: Latents | None = None
        p = self.params
        self._proc_start_s = np.floor((self.start_ms - p.service_uptime_ms) / 10.0) / 100.0

    # ----------------------------------------------------------------- public API

    @property
    def series(self) -> list[Labels]:
        """Labels of every series, in row order of frames and batches."""
        return self.layout.series

    @property
    def last_time_ms(self) -> int | None:
        """Timestamp of the latest sample produced, None before the first."""
        return self._last_t

    def tick(self, now_ms: int | None = None) -> SampleBatch:
        """One scrape of the whole fleet at `now_ms` (default: the clock)."""
        now = self.clock() if now_ms is None else now_ms
        return self._batch(self._frame(np.array([now], dtype=np.int64)))

    def advance(self, now_ms: int | None = None) -> list[SampleBatch]:
        """Live mode: samples at every interval-grid point after the last sample, up to now.

        Returns [] when no grid point is due; several batches when a caller fell behind.
        """
        now = self.clock() if now_ms is None else now_ms
        if self._last_t is None:
            first = self.start_ms
        else:
            k = (self._last_t - self.start_ms) // self.interval_ms + 1
            first = self.start_ms + k * self.interval_ms
        if now < first:
            return []
        return list(self.generate(first, now + 1))

    def frames(
        self,
        start_ms: int,
        end_ms: int,
        step_ms: int | None = None,
        chunk_ms: int = DEFAULT_CHUNK_MS,
    ) -> Iterator[Frame]:
        """Frames at start, start+step, ... < end, at most `chunk_ms` of time per frame."""
        step = self.interval_ms if step_ms is None else step_ms
        if step <= 0 or end_ms < start_ms:
            raise InvalidInput(f"bad range: start={start_ms} end={end_ms} step={step}")
        times = np.arange(start_ms, end_ms, step, dtype=np.int64)
        per = max(1, min(chunk_ms // step, MAX_FRAME_VALUES // len(self.layout)))
        for i in range(0, len(times), per):
            yield self._frame(times[i : i + per])

    def generate(
        self,
        start_ms: int,
        end_ms: int,
        step_ms: int | None = None,
        chunk_ms: int = DEFAULT_CHUNK_MS,
    ) -> Iterator[SampleBatch]:
        """Sample batches covering [start, end) at `step_ms`, vectorised per chunk of time."""
        for frame in self.frames(start_ms, end_ms, step_ms, chunk_ms):
            yield self._batch(frame)

    def trigger(
        self, scenario: str, server: str | None = None, at_ms: int | None = None
    ) -> FaultRecord:
        """Inject `scenario` now (or at `at_ms`) on `server` (default: the scenario's usual root)."""
        sc = get_scenario(scenario)
        root = sc.default_root(self.fleet) if server is None else self.fleet.get(server)
        floor = self.start_ms if self._last_t is None else self._last_t + 1
        at = math.ceil(floor / 1000) * 1000 if at_ms is None else at_ms
        if at < floor:
            raise Conflict(f"cannot inject a fault at {at}: samples up to {self._last_t} exist")
        n = len(self._manual)
        rng = np.random.default_rng([self.seed & 0xFFFFFFFF, 104729, n, at])
        ident = f"{self.seed}:manual:{sc.name}:{root.name}:{at}:{n}"
        rec = plan_fault(sc, self.fleet, root, at, rng, ident, "manual")
        self._manual.append(rec)
        return rec

    def faults_between(self, start_ms: int, end_ms: int) -> list[FaultRecord]:
        """Faults (scheduled and triggered) under way at some time in [start, end], by start."""
        found = list(self._manual)
        if self.settings.faults and self.settings.fault_rate_scale > 0:
            first = max(0, (start_ms - MAX_FAULT_MS) // HOUR_MS)
            for h in range(first, end_ms // HOUR_MS + 1):
                found.extend(self._scheduled(h))
        hit = [f for f in found if f.start_ms <= end_ms and f.end_ms > start_ms]
        return sorted(hit, key=lambda f: (f.start_ms, f.id))

    def ground_truth(self) -> GroundTruth:
        """Every fault that touched the simulated range so far, plus every triggered one."""
        end = self.start_ms if self._last_t is None else self._last_t
        faults = {f.id: f for f in self.faults_between(self.start_ms, end)}
        faults.update((f.id, f) for f in self._manual)
        ordered = sorted(faults.values(), key=lambda f: (f.start_ms, f.id))
        return GroundTruth(self.seed, self.start_ms, end, tuple(ordered))

    def snapshot(self) -> FleetSnapshot:
        """Key figures and status per server at the latest sample (at the start if none yet)."""
        lat = self._last_lat
        if lat is None:
            t = np.array([self.start_ms], dtype=np.int64)
            lat = self.model.latents(t, self._effects(self.start_ms, self.start_ms))
        t_ms = int(lat.t[-1])
        active: dict[str, list[str]] = {}
        for f in self.faults_between(t_ms, t_ms):
            if f.active_at(t_ms):
                for name in f.servers:
                    active.setdefault(name, []).append(f.id)
        p, k = self.params, float(np.exp(SIGMA**2 / 2)) * 1000.0
        cpu = 100.0 * (lat.cpu[:, -1] + lat.iowait[:, -1])
        mem = 100.0 * lat.mem[:, -1]
        disk = 100.0 * np.maximum(lat.disk_root[:, -1], lat.disk_data[:, -1])
        rt, base = lat.latency[:, -1] * k, p.latency_s * 1.3 * k
        out = []
        for s in self.fleet:
            i, up = s.index, bool(lat.up[s.index, -1] > 0)
            status, reasons = judge(cpu[i], mem[i], disk[i], rt[i], base[i], up)
            out.append(
                ServerSnapshot(
                    s.name, s.environment, s.role, s.instance,
                    round(float(cpu[i]), 2), round(float(mem[i]), 2), round(float(disk[i]), 2),
                    round(float(lat.net_rx[i, -1])), round(float(lat.net_tx[i, -1])),
                    round(float(rt[i]), 2), round(float(base[i]), 2), up,
                    tuple(active.get(s.name, ())), status, reasons,
                )
            )  # fmt: skip
        return FleetSnapshot(t_ms, tuple(out))

    def latest(self) -> list[tuple[Labels, float]]:
        """The most recent value of every series (empty before the first sample)."""
        if self._last_values is None:
            return []
        return list(zip(self.layout.series, self._last_values.tolist(), strict=True))

    def exposition(self, server: str | None = None) -> str:
        """The latest scrape in the Prometheus text format 0.0.4 (one server, or the fleet)."""
        samples = self.latest()
        if server is not None:
            self.fleet.get(server)
            samples = [(lbl, v) for lbl, v in samples if ("server", server) in lbl]
        return render_text(samples, self.metadata)

    # ----------------------------------------------------------------- internals

    def _scheduled(self, hour: int) -> list[FaultRecord]:
        got = self._hours.get(hour)
        if got is None:
            scale = self.settings.fault_rate_scale
            got = self._hours[hour] = scheduled_faults(self.seed, self.fleet, hour, scale)
        return got

    def _effects(self, start_ms: int, end_ms: int) -> list[Effect]:
        return [e for f in self.faults_between(start_ms, end_ms) for e in f.effects]

    def _frame(self, t: I64) -> Frame:
        t0, t1 = int(t[0]), int(t[-1])
        if self._last_t is not None and t0 <= self._last_t:
            raise Conflict(f"simulator is already at {self._last_t}; asked for {t0}")
        if t0 < self.start_ms:
            raise InvalidInput(f"time {t0} is before the simulation start {self.start_ms}")
        faults = self.faults_between(t0 - LOOKBACK_MS, t1)
        effects = [e for f in faults for e in f.effects]
        lat = self.model.latents(t, effects)
        loads = self.model.loads(t, effects)
        first = self._last_t is None
        p, n = self.params, len(t)
        dt = np.empty((len(self.fleet), n))
        dt[:, 1:] = np.diff(t).astype(np.float64)[None, :]
        dt_svc = dt.copy()
        dt[:, 0] = p.node_uptime_ms if first else t0 - (self._last_t or 0)
        dt_svc[:, 0] = p.service_uptime_ms if first else dt[:, 0]
        proc = np.repeat(self._proc_start_s[:, None], n, axis=1)
        resets = []
        lo = t0 if self._last_t is None else self._last_t
        for f in faults:
            r = f.restart_ms
            if r is None or not lo < r <= t1:
                continue
            s, i = self.fleet.get(f.root_server).index, int(np.searchsorted(t, r, side="left"))
            resets.append((r, s, i))
        resets.sort()  # in time order: a later restart wins
        for r, s, i in resets:
            proc[s, i:] = r / 1000.0
        values = self._builder.build(lat, loads, dt, dt_svc, [(s, i) for _, s, i in resets], proc)
        self._proc_start_s = proc[:, -1].copy()
        self._last_t, self._last_values = t1, values[:, -1].copy()
        self._last_lat = _last_column(lat)
        return Frame(t, values)

    def _batch(self, frame: Frame) -> SampleBatch:
        n = len(frame.timestamps)
        return SampleBatch(
            self.layout.series,
            np.repeat(self._series_ref, n),
            np.tile(frame.timestamps, len(self._series_ref)),
            frame.values.ravel(),
            self.metadata,
        )


def _last_column(lat: Latents) -> Latents:
    """The latents at the last time only (kept for snapshots)."""
    cols = {k: v[:, -1:].copy() for k, v in vars(lat).items() if k != "t"}
    return Latents(t=lat.t[-1:].copy(), **cols)
