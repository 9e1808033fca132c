"""Run the peers' own load scripts (Prometheus via promtool, VictoriaMetrics) in place.

The harness directory (`shared/peers/tsdb`) is never copied: its scripts run from where they
are, on a work dir whose `data/` points at our workload, with free loopback ports, and their
`result.json` files are read back. Each script also times its fixed query list; REPS=1 keeps
that short (query speed is `openmanager bench query`'s job).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openmanager.errors import NotFound, Unavailable

REPO_SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "peers" / "tsdb"
FALLBACK_HARNESS = Path("/work/shared/peers/tsdb")
Line = Callable[[str], None]
"""Told every output line of a running script."""


def default_harness() -> Path:
    """`$OPENMANAGER_PEERS_DIR`, else `shared/peers/tsdb` beside the checkout, else /work/shared."""
    env = os.environ.get("OPENMANAGER_PEERS_DIR")
    if env:
        return Path(env)
    return REPO_SHARED if REPO_SHARED.is_dir() else FALLBACK_HARNESS


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PeerRun:
    """Figures of one peer load, as its script reported them."""

    name: str
    load_samples_per_s: float
    bytes_per_sample: float
    load_wall_s: float
    raw: dict[str, Any] = field(default_factory=dict)


def prepare_workdir(work: Path, workload_dir: Path) -> Path:
    """A fresh peers work dir whose `data` is a symlink to the workload directory."""
    work.mkdir(parents=True, exist_ok=True)
    link = work / "data"
    if link.is_symlink() or link.is_file():
        link.unlink()
    elif link.exists():
        shutil.rmtree(link)
    link.symlink_to(workload_dir.resolve(), target_is_directory=True)
    return work


def _run(script: Path, work: Path, env_extra: dict[str, str], log: Path, line: Line | None) -> None:
    if not script.is_file():
        raise NotFound(f"peer script {script} not found (set --peers-dir)")
    for binary in ("promtool", "prometheus", "victoria-metrics", "curl"):
        if shutil.which(binary) is None:
            raise Unavailable(
                f"{binary} is not installed (apt-get install prometheus "
                "victoria-metrics curl), or pass --skip-peers"
            )
    env = {**os.environ, "W": str(work), "PY": sys.executable, **env_extra}
    with log.open("w") as fh:
        proc = subprocess.Popen(
            ["bash", str(script)],
            cwd=script.parent,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert proc.stdout is not None
        for text in proc.stdout:
            fh.write(text)
            if line is not None:
                line(text.rstrip())
        code = proc.wait()
    if code != 0:
        raise Unavailable(f"{script.name} failed (exit {code}); see {log}")


def run_prometheus(
    harness: Path, work: Path, *, reps: int = 1, line: Line | None = None
) -> PeerRun:
    """promtool create-blocks from fleet.om (the peers' 24h max block duration), then sizes."""
    env = {"PROM_PORT": str(free_port()), "REPS": str(reps)}
    _run(harness / "run_prometheus.sh", work, env, work / "prometheus.log", line)
    r = _result(work / "prom" / "result.json")
    return PeerRun(
        "Prometheus",
        load_samples_per_s=float(r["backfill_samples_per_s"]),
        bytes_per_sample=float(r["bytes_per_sample_chunks_index"]),
        load_wall_s=float(r["backfill_wall_s"]),
        raw=r,
    )


def run_victoriametrics(
    harness: Path, work: Path, *, reps: int = 1, line: Line | None = None
) -> PeerRun:
    """POST fleet.prom to /api/v1/import/prometheus, force merge, size data + indexdb."""
    env = {"VM_PORT": str(free_port()), "REPS": str(reps)}
    _run(harness / "run_victoriametrics.sh", work, env, work / "victoriametrics.log", line)
    r = _result(work / "vm" / "result.json")
    return PeerRun(
        "VictoriaMetrics",
        load_samples_per_s=float(r["import_samples_per_s"]),
        bytes_per_sample=float(r["bytes_per_sample_data_index"]),
        load_wall_s=float(r["import_wall_s"]),
        raw=r,
    )


def run_breakdown(harness: Path, work: Path, *, line: Line | None = None) -> dict[str, Any]:
    """The peers' per-kind split, each kind loaded into promtool blocks and a fresh VM."""
    env = {"VM_PORT": str(free_port())}
    _run(harness / "breakdown.sh", work, env, work / "breakdown.log", line)
    return _result(work / "breakdown" / "result.json")


def _result(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise Unavailable(f"the peer script left no {path}")
    data: dict[str, Any] = json.loads(path.read_text())
    return data
