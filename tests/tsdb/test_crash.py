"""Crash safety: SIGKILL a process during continuous ingestion; every acknowledged sample survives.

The child appends deterministic batches and prints the batch number after each `append`
returns; the parent kills it at a random point (twice, the second run resuming over the
repaired WAL) and then checks every acknowledged sample bit for bit.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np

from openmanager.config.settings import StorageSettings
from openmanager.samples import STALE_NAN, Float64Array, Labels, make_labels
from openmanager.tsdb.engine import EmbeddedStorage, wall_clock_ms
from openmanager.tsdb.matchers import eq

N_SERIES = 40
STEP = 1000

CHILD = r"""
import sys
from pathlib import Path
from openmanager.config.settings import StorageSettings
from openmanager.samples import SampleBatch
from tests.tsdb.test_crash import batch_items, settings_for

path, t0, first = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
from openmanager.tsdb.engine import EmbeddedStorage
store = EmbeddedStorage(path, settings_for(path))
k = first
while True:
    items = batch_items(t0, k)
    res = store.append(SampleBatch.from_series(items))
    # A batch the killed writer logged but never acknowledged comes back as duplicates.
    if res.accepted + res.duplicates != len(items) or res.errors:
        print("error", res, flush=True)
        sys.exit(1)
    print(k, flush=True)
    k += 1
"""


def settings_for(path: Path) -> StorageSettings:
    """Small blocks so cuts and WAL checkpoints happen during the run; fsync as in production."""
    return StorageSettings(path=path, wal_fsync=True, block_duration="1m")


def _labels(i: int) -> Labels:
    return make_labels("crash_test_value", {"series": str(i), "host": f"h{i % 5}"})


def _values(k: int) -> Float64Array:
    rng = np.random.default_rng(k)
    v = rng.standard_normal(N_SERIES) * 10.0 ** rng.integers(-5, 6, N_SERIES)
    v[k % N_SERIES] = STALE_NAN
    v[(k + 7) % N_SERIES] = float("nan")
    return v


def batch_items(t0: int, k: int) -> list[tuple[Labels, list[int], list[float]]]:
    """Batch k: one sample per series at t0 + k*STEP (floats with exact bit patterns)."""
    vals = _values(k)
    return [(_labels(i), [t0 + k * STEP], [float(vals[i])]) for i in range(N_SERIES)]


def _run_and_kill(path: Path, t0: int, first: int, after: int) -> list[int]:
    """Start a writer, SIGKILL it once `after` batches are acknowledged; return acked batches."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path.cwd()), *sys.path]))
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), str(t0), str(first)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    acked: list[int] = []
    try:
        for line in proc.stdout:
            if not line.endswith("\n"):
                break
            assert not line.startswith("error"), line
            acked.append(int(line))
            if len(acked) >= after:
                proc.send_signal(signal.SIGKILL)
                break
    finally:
        proc.kill()
        _, err = proc.communicate(timeout=30)
    # Lines printed before the kill landed are acknowledgements too.
    assert proc.returncode == -signal.SIGKILL, err
    return acked


def test_acknowledged_batches_survive_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "db"
    hour = 3_600_000
    t0 = (wall_clock_ms() - 24 * hour) // hour * hour
    rnd = random.Random(os.getpid())
    acked = _run_and_kill(path, t0, 0, rnd.randint(150, 300))
    acked += _run_and_kill(path, t0, acked[-1] + 1, rnd.randint(150, 300))
    assert acked == list(range(len(acked)))

    with EmbeddedStorage(path, settings_for(path)) as store:
        got = store.select([eq("__name__", "crash_test_value")], t0, t0 + 10**7)
        assert store.stats().tiers[0].samples > 0  # cuts into blocks happened during the run
    by_labels = {s.labels: s for s in got}
    last = acked[-1]
    for i in range(N_SERIES):
        s = by_labels[_labels(i)]
        k = (s.timestamps - t0) // STEP
        # Every acknowledged batch is there; anything after it (unacknowledged) may or may not be.
        assert k[: last + 1].tolist() == list(range(last + 1))
        want = np.array([_values(int(j))[i] for j in k]).view(np.uint64)
        assert np.array_equal(s.values.view(np.uint64), want)
