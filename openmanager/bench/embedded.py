"""Load a workload file into a fresh `EmbeddedStorage` through the backfill service and measure it.

Steps: timed backfill (wall and CPU; history goes through the bulk import path, straight to
large raw blocks), optionally `maintain()` until the block set stops changing (rollup tiers
written), bytes on disk by file kind, and a bit-exact read-back of every sample against what
the parser handed to storage.

The store runs on the wall clock. The workload is dated 2024, so at maintain time every
compaction window and rollup period lies in the past and is processed at once; retention counts
back from the newest stored sample (not from now), so nothing of the loaded week expires.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from openmanager.bench.digest import DigestComparison, SeriesDigests, compare
from openmanager.bench.disk import tier_bytes, usage_by_kind
from openmanager.config.settings import StorageSettings
from openmanager.services.backfill import Progress, backfill
from openmanager.tsdb.engine import T_MAX, T_MIN, EmbeddedStorage
from openmanager.tsdb.matchers import Matcher, MatchType
from openmanager.units import parse_duration

MAX_MAINTAIN_PASSES = 20
Stage = Callable[[str], None]
"""Told the name of each step as it starts."""


@dataclass
class EmbeddedRun:
    """Every figure of one load into the embedded store."""

    samples_read: int = 0
    samples_stored: int = 0
    series: int = 0
    stats_samples: int = 0
    """Raw samples `stats()` reports right after the load (must equal samples_stored)."""
    rejected: dict[str, int] = field(default_factory=dict)
    load_wall_s: float = 0.0
    load_cpu_s: float = 0.0
    """CPU seconds of the load, parse worker processes included."""
    digest_s: float = 0.0
    """Part of the load's wall time spent hashing input for the read-back check."""
    load_samples_per_s: float = 0.0
    """Samples read / (load wall - digest) seconds: the backfill alone, including its final flush."""
    load_cpu_samples_per_s: float = 0.0
    """Samples read per CPU-second (digest time excluded): the speed on idle cores."""
    peak_rss_mib: float = 0.0
    maintain_passes: list[float] = field(default_factory=list)
    maintain_s: float = 0.0
    bytes_by_kind: dict[str, int] = field(default_factory=dict)
    bytes_total: int = 0
    bytes_raw_tier: int = 0
    bytes_wal: int = 0
    bytes_per_sample_raw_wal: float = 0.0
    """Raw tier (chunks + index + meta) plus WAL, per sample: the figure comparable to the peers."""
    bytes_per_sample_total: float = 0.0
    """The whole data dir (rollup tiers included) per sample."""
    readback_s: float = 0.0
    readback_samples_per_s: float = 0.0
    verify: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return asdict(self)


def measure(
    source: Path,
    data_dir: Path,
    settings: StorageSettings | None = None,
    *,
    verify: bool = True,
    settle_store: bool = True,
    bulk: bool = True,
    progress: Progress | None = None,
    stage: Stage | None = None,
) -> EmbeddedRun:
    """Backfill `source` into a new store at `data_dir`, settle it, size it, read it back."""
    if data_dir.exists() and any(data_dir.iterdir()):
        raise FileExistsError(f"{data_dir} is not empty: the benchmark needs a fresh store")
    cfg = (settings or StorageSettings()).model_copy(update={"path": data_dir})
    written = SeriesDigests()
    storage = EmbeddedStorage(data_dir, cfg)
    run = EmbeddedRun()
    try:
        _say(stage, "load")
        wall, cpu = time.perf_counter(), _cpu_s()
        report = backfill(
            storage,
            source,
            max_future_ms=parse_duration(cfg.future_tolerance),
            progress=progress,
            bulk=bulk,
            observe=written.add_batch if verify else None,
        )
        run.load_wall_s = time.perf_counter() - wall
        run.load_cpu_s = _cpu_s() - cpu
        run.peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        run.samples_read, run.samples_stored = report.samples_read, report.samples_stored
        run.series, run.rejected = report.series, dict(report.rejected)
        run.digest_s = written.seconds
        run.load_samples_per_s = run.samples_read / max(run.load_wall_s - run.digest_s, 1e-9)
        run.load_cpu_samples_per_s = run.samples_read / max(run.load_cpu_s - run.digest_s, 1e-9)
        run.stats_samples = storage.stats().samples
        if settle_store:
            _say(stage, "maintain")
            run.maintain_passes = settle(storage, data_dir)
            run.maintain_s = sum(run.maintain_passes)
        _size(run, data_dir)
        if verify:
            _say(stage, "read back")
            read, run.readback_s = read_back(storage)
            run.readback_samples_per_s = read.samples / max(run.readback_s, 1e-9)
            run.verify = _verdict(compare(written, read))
    finally:
        storage.close()
    return run


def settle(storage: EmbeddedStorage, data_dir: Path) -> list[float]:
    """Run `maintain()` until a pass leaves the set of blocks unchanged; seconds per pass."""
    passes: list[float] = []
    for _ in range(MAX_MAINTAIN_PASSES):
        before = _block_ids(data_dir)
        started = time.perf_counter()
        storage.maintain()
        passes.append(time.perf_counter() - started)
        if _block_ids(data_dir) == before:
            return passes
    raise RuntimeError(f"storage still changing after {MAX_MAINTAIN_PASSES} maintain() passes")


def read_back(storage: EmbeddedStorage) -> tuple[SeriesDigests, float]:
    """Digest every stored raw sample, one metric name at a time; (digests, seconds)."""
    out = SeriesDigests()
    started = time.perf_counter()
    for name in storage.label_values("__name__"):
        for s in storage.select([Matcher("__name__", MatchType.EQ, name)], T_MIN, T_MAX):
            out.add(s.labels, s.timestamps, s.values)
    return out, time.perf_counter() - started


def _block_ids(data_dir: Path) -> set[str]:
    return {p.name for p in (data_dir / "blocks").glob("*/*") if p.is_dir()}


def _size(run: EmbeddedRun, data_dir: Path) -> None:
    run.bytes_by_kind = usage_by_kind(data_dir)
    run.bytes_total = sum(run.bytes_by_kind.values())
    run.bytes_raw_tier = tier_bytes(run.bytes_by_kind, "raw")
    run.bytes_wal = run.bytes_by_kind.get("wal", 0)
    n = max(run.samples_stored, 1)
    run.bytes_per_sample_raw_wal = (run.bytes_raw_tier + run.bytes_wal) / n
    run.bytes_per_sample_total = run.bytes_total / n


def _verdict(c: DigestComparison) -> dict[str, Any]:
    return {"ok": c.ok, **asdict(c)}


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children (the parse workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _say(stage: Stage | None, name: str) -> None:
    if stage is not None:
        stage(name)
