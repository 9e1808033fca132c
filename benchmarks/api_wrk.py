"""The fleet summary and an instant query under `wrk` with auth on: req/s, p50/p99/max, CPU.

Starts `openmanager serve` (simulated fleet, `security.auth: true`, a viewer key) in a temp
dir on a free port, then runs `wrk` (Debian package) against each endpoint in turn and prints
requests/s, latency percentiles, the server's CPU time per request and the load average seen,
so figures from a shared machine can be judged, and how often the server's event loop woke
more than 25 / 100 ms late during each run (its `openmanager_event_loop_lag_seconds` probes,
10 a second). Run under the bench lock:

    flock /work/bench.lock python benchmarks/api_wrk.py --connections 50 --duration 20

`--access-log off` measures with `server.access_log: false`.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import httpx

from openmanager.bench.process import serve_command, stop_process, wait_ready

QUERY = "avg by (role) (node_load1)"
ENDPOINTS = {"fleet": "/api/v1/fleet", "instant": f"/api/v1/query?query={quote(QUERY)}"}
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def to_ms(text: str) -> float:
    """wrk's `12.34ms` / `1.02s` / `850.00us` in milliseconds."""
    found = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if found is None:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(found[1]) * UNITS[found[2]]


def parse_wrk(out: str) -> dict[str, float]:
    """Requests/s, p50, p99, max and non-2xx count from `wrk --latency` output."""
    pct = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    top = re.search(r"Latency\s+\S+\s+\S+\s+(\S+)", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)$", out, re.M)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),  # type: ignore[index]
        "requests": float(re.search(r"(\d+) requests in", out)[1]),  # type: ignore[index]
        "p50_ms": to_ms(pct["50"]),
        "p99_ms": to_ms(pct["99"]),
        "max_ms": to_ms(top[1]) if top else float("nan"),
        "non_2xx": float(bad[1]) if bad else 0.0,
        "socket_errors": 1.0 if errors else 0.0,
    }


def loop_lag(url: str, key: str) -> dict[str, float]:
    """The server's event-loop lag probes so far: count, and how many were over 25 / 100 ms."""
    text = httpx.get(f"{url}/metrics", headers={"X-API-Key": key}, timeout=10).text
    name = "openmanager_event_loop_lag_seconds"
    got = {
        m[0]: float(m[1]) for m in re.findall(rf'^{name}_bucket{{le="([^"]+)"}} (\S+)$', text, re.M)
    }
    total = got.get("+Inf", 0.0)
    return {
        "n": total,
        "over25": total - got.get("0.025", 0.0),
        "over100": total - got.get("0.1", 0.0),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--duration", type=int, default=20, help="seconds per endpoint")
    ap.add_argument("--endpoint", action="append", choices=sorted(ENDPOINTS))
    ap.add_argument("--access-log", choices=["on", "off"], default="on")
    ap.add_argument("--backfill", default="30m")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("needs wrk: apt-get install -y wrk")
    with tempfile.TemporaryDirectory(prefix="openmanager-api-wrk-") as tmp:
        env = {**os.environ, "OPENMANAGER_SECURITY__AUTH": "true",
               "OPENMANAGER_STORAGE__PATH": f"{tmp}/data",
               "OPENMANAGER_SIMULATOR__BACKFILL": args.backfill,
               "OPENMANAGER_SERVER__ACCESS_LOG": str(args.access_log == "on").lower()}  # fmt: skip
        made = subprocess.run([sys.executable, "-m", "openmanager.cli.main", "keys", "create",
                               "--role", "viewer", "--name", "wrk"],
                              env=env, capture_output=True, text=True, check=True)  # fmt: skip
        key = made.stdout.split()[-1]
        port = free_port()
        log = open(Path(tmp) / "serve.log", "w")  # noqa: SIM115 - closed below
        proc = subprocess.Popen(serve_command(port, Path(tmp) / "data"), env=env, stdout=log,
                                stderr=subprocess.STDOUT)  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(proc, f"{url}/-/ready", name="openmanager serve", timeout_s=300)
            print(
                f"server {url} pid {proc.pid}, auth on (viewer key), access log {args.access_log}"
            )
            print(
                f"wrk -t1 -c{args.connections} -d{args.duration}s --latency, one endpoint at a time"
            )
            print(f"{'endpoint':<9} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
                  f"{'non-2xx':>7} {'CPU/req':>9} {'load avg 1m':>12} loop lag >25ms/>100ms/probes")  # fmt: skip
            for name in args.endpoint or ["fleet", "instant"]:
                cmd = ["wrk", "-t1", f"-c{args.connections}", f"-d{args.duration}s", "--latency",
                       "-H", f"X-API-Key: {key}", url + ENDPOINTS[name]]  # fmt: skip
                lag0 = loop_lag(url, key)
                cpu0, load0 = cpu_seconds(proc.pid), os.getloadavg()[0]
                out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
                cpu1, load1 = cpu_seconds(proc.pid), os.getloadavg()[0]
                lag = {k: v - lag0[k] for k, v in loop_lag(url, key).items()}
                r = parse_wrk(out)
                per_req_us = (cpu1 - cpu0) / max(r["requests"], 1) * 1e6
                print(f"{name:<9} {r['rps']:>8.0f} {r['p50_ms']:>7.1f} {r['p99_ms']:>7.1f} "
                      f"{r['max_ms']:>7.0f} {r['non_2xx']:>7.0f} {per_req_us:>7.0f}us "
                      f"{load0:>5.2f}->{load1:<5.2f} {lag['over25']:.0f}/{lag['over100']:.0f}/{lag['n']:.0f}")  # fmt: skip
                time.sleep(1)
        finally:
            stop_process(proc, timeout_s=20)
            log.close()
    print("target (issue 10): fleet >= 2,000 req/s with p99 < 50 ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
