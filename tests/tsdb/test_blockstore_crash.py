"""SIGKILL during maintenance (compaction, rollups, retention) never loses or doubles data."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from openmanager.samples import make_labels
from openmanager.tsdb.blockstore import BlockStore

HOUR = 3_600_000
FOREVER = {"raw": 0, "1m": 0, "5m": 0, "1h": 0}

CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from openmanager.tsdb.blockstore import BlockStore

    store = BlockStore(Path(sys.argv[1]), {"raw": 0, "1m": 0, "5m": 0, "1h": 0})
    print("ready", flush=True)
    store.maintain(now_ms=10**13)
    print("done", flush=True)
    """
)


def _seed(root: Path) -> None:
    store = BlockStore(root, FOREVER)
    rng = np.random.default_rng(0)
    for k in range(12):
        ts = np.arange(k * 2 * HOUR, (k + 1) * 2 * HOUR, 15_000, dtype=np.int64)
        store.add_block(
            [
                (
                    make_labels("m_total", {"i": str(i)}),
                    ts,
                    np.cumsum(rng.poisson(2, len(ts))).astype(np.float64),
                )
                for i in range(30)
            ],
            {},
        )
    store.close()


def _raw(root: Path) -> dict[tuple[tuple[str, str], ...], tuple[bytes, bytes]]:
    store = BlockStore(root, FOREVER, now_ms=lambda: 0)
    try:
        return {
            s.labels: (s.timestamps.tobytes(), s.values.tobytes())
            for s in store.select([], 0, 10**13)
        }
    finally:
        store.close()


@pytest.mark.slow
def test_sigkill_during_maintenance_keeps_every_sample(tmp_path: Path) -> None:
    seed = tmp_path / "seed"
    _seed(seed)
    want = _raw(seed)
    rnd = random.Random(42)
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    for attempt in range(8):
        root = tmp_path / f"run{attempt}"
        shutil.copytree(seed, root)
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(root)], stdout=subprocess.PIPE, text=True, env=env
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        try:
            child.wait(timeout=rnd.uniform(0.0, 2.5))  # maintenance takes ~2 s here
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGKILL)
            child.wait()
        assert _raw(root) == want, f"attempt {attempt}: raw data changed after a crash"
        store = BlockStore(root, FOREVER)
        store.maintain(now_ms=10**13)  # finishing the interrupted work converges
        store.close()
        assert _raw(root) == want
        reopened = BlockStore(root, FOREVER)
        for res in (60_000, HOUR):
            rollups = reopened.select_rollup([], 0, 10**13, res)
            assert len(rollups) == 30
            assert all(r.count.sum() == 12 * 480 for r in rollups), f"attempt {attempt}"
        assert not list(root.glob("blocks/*/*.tmp")) and not list(root.glob("blocks/*/*.deleting"))
        reopened.close()
