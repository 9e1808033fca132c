"""Test helpers: read one server's signal (a gauge, or a rate of counters) out of a frame."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from openmanager.simulate import Frame, Simulator
from openmanager.simulate.layout import CPU_MODES, CPUS, HTTP_COMBOS

F64 = npt.NDArray[np.float64]

START = 1_700_006_400_000  # 2023-11-15T00:00:00Z, a multiple of every step used here


def collect(sim: Simulator, start_ms: int, end_ms: int, chunk_ms: int = 6 * 3_600_000) -> Frame:
    """All frames of [start, end) glued into one."""
    frames = list(sim.frames(start_ms, end_ms, chunk_ms=chunk_ms))
    return Frame(
        np.concatenate([f.timestamps for f in frames]),
        np.concatenate([f.values for f in frames], axis=1),
    )


def _rows(sim: Simulator, sample: str, server: int, combos: list[int]) -> F64:
    return np.array([sim.layout.row(sample, server, c) for c in combos])


def signal(sim: Simulator, frame: Frame, server: str, metric: str, labels: dict[str, str]) -> F64:
    """What a detector would look at for (server, metric): the gauge, or the counter's increase.

    Counter-derived signals have NaN in the first column (no previous sample).
    """
    s = sim.fleet.get(server).index
    v = frame.values

    def inc(rows: F64) -> F64:
        x = v[rows.astype(int)].sum(axis=0)
        return np.concatenate([[np.nan], np.diff(x)])

    if metric == "node_cpu_seconds_total":
        idle = [CPU_MODES.index("idle") + i * len(CPU_MODES) for i in range(len(CPUS))]
        everything = list(range(len(CPUS) * len(CPU_MODES)))
        total = inc(_rows(sim, metric, s, everything))
        return 1.0 - inc(_rows(sim, metric, s, idle)) / total
    if metric == "http_request_duration_seconds":
        ssum = inc(_rows(sim, f"{metric}_sum", s, [0]))
        count = inc(_rows(sim, f"{metric}_count", s, [0]))
        return ssum / np.maximum(count, 1)
    if metric == "http_requests_total":
        status = labels.get("status")
        combos = [i for i, (_, st) in enumerate(HTTP_COMBOS) if status in (None, st)]
        return inc(_rows(sim, metric, s, combos))
    if metric == "node_filesystem_avail_bytes":
        combo = 1 if labels.get("mountpoint") == "/data" else 0
        return np.asarray(v[sim.layout.row(metric, s, combo)], dtype=np.float64)
    if metric.endswith("_total"):
        return inc(_rows(sim, metric, s, [0]))
    return np.asarray(v[sim.layout.row(metric, s, 0)], dtype=np.float64)
