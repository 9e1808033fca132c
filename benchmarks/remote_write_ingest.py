"""Remote-write ingest throughput of `openmanager serve`, beside Prometheus and VictoriaMetrics.

Starts `openmanager serve --no-simulator` on a free loopback port over a fresh data dir, runs
the peers' sender (`/work/shared/peers/tsdb/remote_write.py`: the same deterministic workload,
Prometheus-shaped requests, pre-encoded, `--conns` parallel connections), then checks that every
sample was stored (storage stats and the receiver's accepted counter) and prints samples/s
beside the peers' figures measured on this machine.

    python benchmarks/remote_write_ingest.py --days 7 --out /tmp/om-rw.json
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

PEERS = Path("/work/shared/peers/tsdb")
SENDER = PEERS / "remote_write.py"
RESULTS = PEERS / "results-2026-11-23.json"


def free_port() -> int:
    """A loopback TCP port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(data: Path, port: int, fsync: bool, log: Path) -> subprocess.Popen[bytes]:
    """`openmanager serve` with retention long enough for the 2024 workload; waits for ready."""
    env = {
        **os.environ,
        "OPENMANAGER_PROFILE": "production",
        "OPENMANAGER_SERVER__LOG_LEVEL": "warning",
        "OPENMANAGER_STORAGE__WAL_FSYNC": "true" if fsync else "false",
        "OPENMANAGER_STORAGE__RETENTION__RAW": "100y",
    }
    cmd = [sys.executable, "-m", "openmanager.cli.main", "serve", "--no-simulator"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--data", str(data)]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"serve exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/-/ready", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("serve not ready after 60s")


def accepted_counter(url: str) -> float:
    """The receiver's `openmanager_remote_write_samples_total{outcome="accepted"}`."""
    for line in httpx.get(f"{url}/metrics", timeout=30).text.splitlines():
        if line.startswith('openmanager_remote_write_samples_total{outcome="accepted"}'):
            return float(line.split()[-1])
    return 0.0


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Push the workload once; the sender's result plus what the server stored."""
    with tempfile.TemporaryDirectory(prefix="om-rw-") as tmp:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = start_server(Path(tmp) / "data", port, args.fsync, Path(tmp) / "serve.log")
        try:
            out = Path(tmp) / "rw.json"
            subprocess.run(
                [sys.executable, str(SENDER), "--url", f"{url}/api/v1/write",
                 "--days", str(args.days), "--conns", str(args.conns),
                 "--batch", str(args.batch), "--out", str(out)],
                check=True,
            )  # fmt: skip
            result: dict[str, Any] = json.loads(out.read_text())
            stats = httpx.get(f"{url}/api/v1/status/storage", timeout=120).json()["data"]
            result.update(
                target="openmanager",
                fsync=args.fsync,
                rows_stored=int(stats["samples"]),
                accepted=int(accepted_counter(url)),
                series_stored=int(stats["series"]),
            )
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    return result


def main() -> None:
    """Parse options, run, print the comparison, optionally write JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--conns", type=int, default=2)
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--fsync", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    ours = run(args)
    peers = json.loads(RESULTS.read_text())
    rows = [
        ("OpenManager", ours),
        ("Prometheus", peers["prometheus_remote_write"]),
        ("VictoriaMetrics", peers["victoriametrics_remote_write"]),
    ]
    print(f"{'receiver':<16} {'samples':>10} {'stored':>10} {'wall s':>7} {'samples/s':>11}")
    for name, r in rows:
        print(
            f"{name:<16} {r['samples']:>10} {r['rows_stored']:>10} {r['wall_s']:>7.2f} "
            f"{r['samples_per_s']:>11,}"
        )
    complete = ours["rows_stored"] == ours["samples"] and ours["errors"] == 0
    print(f"every sample stored: {complete} (accepted counter {ours['accepted']})")
    if args.out:
        args.out.write_text(json.dumps({"openmanager": ours, "peers": dict(rows[1:])}, indent=1))


if __name__ == "__main__":
    main()
