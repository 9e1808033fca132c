"""WebSocket fan-out: N clients on `server-metrics`, delivery latency from tick to client, server CPU.

Starts `openmanager serve` (simulator tick every `--tick`), connects `--clients` WebSocket clients
(`--compression shared`: `?encoding=deflate`, each update compressed once on the server for every
client, the dashboard's default; `permessage-deflate`: per-connection compression; `none`), measures for `--seconds`, and prints p50/p99 of
publish -> client (the event's `ts`, stamped when the tick hands its figures to the bus, to
receipt), plus the server's CPU (% of one core) over the window. Clients run in `--procs`
processes on the same machine, so they compete with the server for its cores.
Run: `python benchmarks/ws_fanout.py --clients 1000 --seconds 20 --tick 2`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil
import websockets


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(data: Path, tick_s: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "OPENMANAGER_PROFILE": "test",
        "OPENMANAGER_SIMULATOR__INTERVAL": f"{tick_s}s",
        "OPENMANAGER_SIMULATOR__BACKFILL": "5m",
        "OPENMANAGER_SERVER__LOG_LEVEL": "warning",
    }
    cmd = [sys.executable, "-m", "openmanager.cli.main", "serve", "--port", str(port)]
    proc = subprocess.Popen([*cmd, "--data", str(data)], env=env, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server not ready")


TS = re.compile(rb'"ts":([0-9.]+)')


COMPRESSION = ("shared", "permessage-deflate", "none")


async def client(url: str, compress: str, out: list[tuple[float, float]], until: Any) -> None:
    """One subscriber; records (receipt time, receipt - publish time) per update."""
    if compress == "shared":
        url += "?encoding=deflate"
    per_message = "deflate" if compress == "permessage-deflate" else None
    async with websockets.connect(
        url, compression=per_message, max_size=None, open_timeout=120
    ) as ws:
        await ws.send(json.dumps({"action": "subscribe", "channel": "server-metrics"}))
        while not until.value or time.time() < until.value:
            try:
                frame = await asyncio.wait_for(ws.recv(decode=False), 1.0)
            except TimeoutError:
                continue
            now = time.time()
            if compress == "shared" and isinstance(frame, bytes) and frame[:1] == b"x":
                frame = zlib.decompress(frame)
            for ts in TS.findall(frame[:4096] if len(frame) < 4096 else frame):
                out.append((now, now - float(ts)))


def worker(url: str, clients: int, compress: str, until: Any, results: Any, nice: int) -> None:
    """A client process: `clients` connections (connected in waves) until `until`."""
    if nice:
        os.nice(nice)  # let the server have the CPU first: clients share its machine

    async def run() -> list[tuple[float, float]]:
        out: list[tuple[float, float]] = []
        tasks = []
        for i in range(0, clients, 50):
            n = min(50, clients - i)
            tasks += [asyncio.create_task(client(url, compress, out, until)) for _ in range(n)]
            await asyncio.sleep(0.2)
        done = await asyncio.gather(*tasks, return_exceptions=True)
        failed = [d for d in done if isinstance(d, BaseException)]
        if failed:
            print(f"{len(failed)} clients failed, e.g. {failed[0]!r}", file=sys.stderr)
        return out

    results.put(asyncio.run(run()))


def measure(
    url: str, clients: int, procs: int, seconds: float, compress: str, pid: int, nice: int = 0
) -> dict[str, Any]:
    ws_url = url.replace("http://", "ws://") + "/api/v1/stream"
    until: Any = mp.Value("d", 0.0)  # 0 until everyone is connected, then the window's end
    results: Any = mp.Queue()
    per = [clients // procs + (1 if i < clients % procs else 0) for i in range(procs)]
    workers = [
        mp.Process(target=worker, args=(ws_url, n, compress, until, results, nice), daemon=True)
        for n in per
    ]
    for w in workers:
        w.start()
    deadline = time.monotonic() + 300
    while (
        httpx.get(f"{url}/api/v1/stream/stats", timeout=60).json()["data"]["channels"][
            "server-metrics"
        ]
        < clients
    ):
        if time.monotonic() > deadline:
            raise RuntimeError("clients did not all connect")
        time.sleep(0.5)
    time.sleep(3)  # the first (latest-state) messages pass
    t0 = time.time()
    t1 = t0 + seconds
    until.value = t1
    proc = psutil.Process(pid)
    cpu0 = proc.cpu_times()
    stats = httpx.get(f"{url}/api/v1/stream/stats", timeout=60).json()["data"]
    load = os.getloadavg()[0]
    time.sleep(max(0.0, t1 - time.time()))
    cpu1 = proc.cpu_times()
    drops = httpx.get(f"{url}/api/v1/stream/stats", timeout=60).json()["data"]["slow_drops"]
    out = [row for _ in workers for row in results.get(timeout=120)]
    for w in workers:
        w.join(30)
    lat = np.array([d for at, d in out if t0 <= at <= t1]) * 1000
    if not len(lat):
        raise RuntimeError("no updates received in the window")
    pct = {"p50": 50, "p90": 90, "p99": 99}
    return {
        "clients": clients,
        "client_processes": procs,
        "client_nice": nice,
        "compression": compress,
        "window_s": seconds,
        "connected_at_window": stats["channels"]["server-metrics"],
        "updates_received": int(len(lat)),
        "publish_to_client_ms": {k: round(float(np.percentile(lat, q)), 1) for k, q in pct.items()}
        | {"max": round(float(lat.max()), 1)},
        "server_cpu_percent_of_one_core": round(
            100 * ((cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)) / seconds, 1
        ),
        "server_cpu_ms_per_delivered_update": round(
            1000 * ((cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)) / len(lat), 3
        ),
        "slow_drops": drops,
        "machine_load_1m": round(load, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--tick", type=int, default=1, help="simulator interval, seconds")
    parser.add_argument("--procs", type=int, default=2, help="client processes")
    parser.add_argument("--compression", choices=COMPRESSION, default="shared")
    parser.add_argument("--client-nice", type=int, default=0, help="nice level of the clients")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_server(Path(tmp), args.tick)
        try:
            result = measure(
                url,
                args.clients,
                args.procs,
                args.seconds,
                args.compression,
                proc.pid,
                args.client_nice,
            )
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
