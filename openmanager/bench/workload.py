"""The peers' deterministic fleet workload: find it, check its manifest, generate it if missing.

The generator is the peers' own `gen_workload.py`, run in place from the harness directory, so
OpenManager, Prometheus and VictoriaMetrics always load byte-identical files.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openmanager.errors import InvalidInput, NotFound, Unavailable

FILES = ("fleet.om", "fleet.prom")
GENERATOR = "gen_workload.py"
HASH_BLOCK = 8 << 20

GenProgress = Callable[[int, float], None]
"""Called with (bytes written so far, seconds elapsed) while the generator runs."""


@dataclass(frozen=True)
class Workload:
    """A generated workload directory and what its manifest says about it."""

    dir: Path
    samples: int
    series: int
    days: int
    servers: int
    manifest: dict[str, Any]

    @property
    def om(self) -> Path:
        """The OpenMetrics file (timestamps in seconds, ends in `# EOF`)."""
        return self.dir / "fleet.om"

    @property
    def prom(self) -> Path:
        """The Prometheus text file (timestamps in ms)."""
        return self.dir / "fleet.prom"


def read_workload(path: Path) -> Workload:
    """The workload in `path` from its manifest; NotFound if it or a file it lists is missing."""
    man_path = path / "manifest.json"
    if not man_path.is_file():
        raise NotFound(f"no workload manifest at {man_path}")
    man: dict[str, Any] = json.loads(man_path.read_text())
    for name, info in man.get("files", {}).items():
        f = path / name
        if not f.is_file() or f.stat().st_size != info["bytes"]:
            raise NotFound(f"{f} is missing or its size differs from the manifest")
    return Workload(
        path, int(man["samples"]), int(man["series"]), int(man["days"]), int(man["servers"]), man
    )


def verify_hashes(workload: Workload) -> None:
    """Hash every file the manifest lists; InvalidInput names the first that differs."""
    for name, info in workload.manifest.get("files", {}).items():
        digest = hashlib.sha256()
        with (workload.dir / name).open("rb") as fh:
            while block := fh.read(HASH_BLOCK):
                digest.update(block)
        if digest.hexdigest() != info["sha256"]:
            raise InvalidInput(f"{workload.dir / name}: sha256 differs from its manifest")


def generate(
    harness: Path, out: Path, *, days: int, servers: int, progress: GenProgress | None = None
) -> Workload:
    """Run the peers' generator into `out`, reporting the bytes written as it goes."""
    script = harness / GENERATOR
    if not script.is_file():
        raise NotFound(f"workload generator {script} not found (set the harness directory)")
    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, str(script), "--out", str(out), "--days", str(days)]
    cmd += ["--servers", str(servers)]
    started = time.monotonic()
    log = out / "gen.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT)
        while proc.poll() is None:
            if progress is not None:
                written = sum((out / f).stat().st_size for f in FILES if (out / f).exists())
                progress(written, time.monotonic() - started)
            time.sleep(0.5)
    if proc.returncode != 0:
        raise Unavailable(f"{script} failed (exit {proc.returncode}): {log.read_text()[-2000:]}")
    return read_workload(out)


def ensure(
    harness: Path,
    path: Path,
    *,
    days: int = 7,
    servers: int = 20,
    check_hashes: bool = True,
    progress: GenProgress | None = None,
) -> tuple[Workload, bool]:
    """The workload in `path`, reused if its manifest matches, else generated; (it, generated)."""
    try:
        found = read_workload(path)
        if (found.days, found.servers) == (days, servers):
            if check_hashes:
                verify_hashes(found)
            return found, False
    except (NotFound, InvalidInput, KeyError, ValueError):
        pass
    return generate(harness, path, days=days, servers=servers, progress=progress), True
