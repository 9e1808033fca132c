"""Backfill files: a simulated time range written as OpenMetrics plus its ground truth JSON.

OpenMetrics wants each family's samples together, so the range is generated first into one
[series, time] matrix (memory-mapped on disk when large), then written family by family.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from openmanager.ingest.exposition_write import OpenMetricsWriter
from openmanager.samples import SeriesMeta
from openmanager.simulate.noise import F64
from openmanager.simulate.simulator import Simulator

IN_MEMORY_LIMIT = 2 << 30
"""Above this many bytes of values, the matrix lives in a temporary file instead of RAM."""
WRITE_CHUNK = 200_000
"""Samples formatted per writer call (bounds the formatter's temporary arrays)."""

Progress = Callable[[str, int], None]
"""Called with (phase, samples done in this step); phases are `generate` and `write`."""


@dataclass(frozen=True)
class HistoryResult:
    """What a backfill run produced."""

    openmetrics: Path
    ground_truth: Path
    series: int
    samples: int
    faults: int
    bytes: int
    seconds: float
    generate_seconds: float


def _matrix(shape: tuple[int, int], out_dir: Path) -> F64:
    if shape[0] * shape[1] * 8 <= IN_MEMORY_LIMIT:
        return np.empty(shape)
    path = out_dir / ".values.tmp.npy"
    arr: F64 = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=shape)
    return arr


def write_history(
    sim: Simulator,
    start_ms: int,
    end_ms: int,
    out_dir: Path,
    step_ms: int | None = None,
    progress: Progress | None = None,
) -> HistoryResult:
    """Simulate [start, end) and write `fleet.om` and `ground_truth.json` into `out_dir`."""
    t_begin = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    step = sim.interval_ms if step_ms is None else step_ms
    times = np.arange(start_ms, end_ms, step, dtype=np.int64)
    n_series = len(sim.series)
    values = _matrix((n_series, len(times)), out_dir)
    col = 0
    for frame in sim.frames(start_ms, end_ms, step):
        n = len(frame.timestamps)
        values[:, col : col + n] = frame.values
        col += n
        if progress:
            progress("generate", frame.values.size)
    t_gen = time.perf_counter() - t_begin
    om_path = out_dir / "fleet.om"
    with om_path.open("wb", buffering=1 << 20) as f:
        writer = OpenMetricsWriter(f)
        for family, rows in _families(sim):
            meta = sim.metadata.get(family, SeriesMeta())
            labels = sim.series[rows]
            calls = max(1, (len(labels) * len(times)) // WRITE_CHUNK)
            bounds = np.linspace(0, len(times), min(calls, len(times)) + 1).astype(int)
            for a, b in zip(bounds[:-1], bounds[1:], strict=True):
                writer.write_family(family, meta, labels, times[a:b], values[rows, a:b])
                if progress:
                    progress("write", len(labels) * int(b - a))
        writer.close()
    gt_path = out_dir / "ground_truth.json"
    truth = sim.ground_truth()
    gt_path.write_text(truth.to_json() + "\n")
    if isinstance(values, np.memmap):
        name = values.filename
        del values
        if name:
            Path(name).unlink(missing_ok=True)
    return HistoryResult(
        om_path,
        gt_path,
        n_series,
        n_series * len(times),
        len(truth.faults),
        om_path.stat().st_size,
        time.perf_counter() - t_begin,
        t_gen,
    )


def _families(sim: Simulator) -> list[tuple[str, slice]]:
    """(family, row slice) in layout order; a histogram's bucket/sum/count blocks merge."""
    out: list[tuple[str, slice]] = []
    for b in sim.layout.blocks:
        if out and out[-1][0] == b.family.name:
            out[-1] = (b.family.name, slice(out[-1][1].start, b.stop))
        else:
            out.append((b.family.name, slice(b.start, b.stop)))
    return out
