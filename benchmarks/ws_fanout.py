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


ITEM = re.compile(rb'"seq":([0-9]+),"ts":([0-9.]+)')


COMPRESSION = ("shared", "permessage-deflate", "none")

Row = tuple[int, float, float]
"""(event seq, receipt time, receipt - publish time) of one update at one client."""


async def client(url: str, compress: str, out: list[Row]) -> None:
    """One subscriber; records a row per event received until cancelled."""
    if compress == "shared":
        url += "?encoding=deflate"
    per_message = "deflate" if compress == "permessage-deflate" else None
    async with websockets.connect(
        url, compression=per_message, max_size=None, open_timeout=120
    ) as ws:
        await ws.send(json.dumps({"action": "subscribe", "channel": "server-metrics"}))
        async for frame in ws:
            now = time.time()
            if isinstance(frame, bytes) and frame[:1] == b"x":
                frame = zlib.decompress(frame)
            elif isinstance(frame, str):
                frame = frame.encode()
            for seq, ts in ITEM.findall(frame):
                out.append((int(seq), now, now - float(ts)))


def worker(
    url: str, clients: int, compress: str, until: Any, results: Any, nice: int, loop: str
) -> None:
    """A client process: `clients` connections (connected in waves) until `until`."""
    if nice:
        os.nice(nice)  # let the server have the CPU first: clients share its machine

    async def run() -> list[Row]:
        out: list[Row] = []
        tasks = []
        for i in range(0, clients, 50):
            n = min(50, clients - i)
            tasks += [asyncio.create_task(client(url, compress, out)) for _ in range(n)]
            await asyncio.sleep(0.2)
        while not until.value or time.time() < until.value:
            await asyncio.sleep(0.2)
        for task in tasks:
            task.cancel()
        done = await asyncio.gather(*tasks, return_exceptions=True)
        failed = [d for d in done if not isinstance(d, asyncio.CancelledError | type(None))]
        if failed:
            print(f"{len(failed)} clients failed, e.g. {failed[0]!r}", file=sys.stderr)
        return out

    if loop == "uvloop":
        import uvloop

        results.put(uvloop.run(run()))
    else:
        results.put(asyncio.run(run()))


def percentiles(values: np.ndarray) -> dict[str, float]:
    """p50/p90/p99/max in ms of seconds."""
    ms = values * 1000
    pct = {
        k: round(float(np.percentile(ms, q)), 1) for k, q in (("p50", 50), ("p90", 90), ("p99", 99))
    }
    return pct | {"max": round(float(ms.max()), 1)}


def cpu_s(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


def measure(
    url: str,
    clients: int,
    procs: int,
    seconds: float,
    compress: str,
    pid: int,
    nice: int = 0,
    loop: str = "asyncio",
) -> dict[str, Any]:
    ws_url = url.replace("http://", "ws://") + "/api/v1/stream"
    until: Any = mp.Value("d", 0.0)  # 0 until everyone is connected, then the window's end
    results: Any = mp.Queue()
    per = [clients // procs + (1 if i < clients % procs else 0) for i in range(procs)]
    workers = [
        mp.Process(
            target=worker, args=(ws_url, n, compress, until, results, nice, loop), daemon=True
        )
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
    server = psutil.Process(pid)
    client_procs = [psutil.Process(w.pid) for w in workers]
    stats = httpx.get(f"{url}/api/v1/stream/stats", timeout=60).json()["data"]
    load0 = os.getloadavg()[0]
    psutil.cpu_percent(None)
    t0 = time.time()
    t1 = t0 + seconds
    until.value = t1
    cpu0, ccpu0 = cpu_s(server), sum(cpu_s(p) for p in client_procs)
    time.sleep(max(0.0, t1 - time.time()))
    cpu1, ccpu1 = cpu_s(server), sum(cpu_s(p) for p in client_procs)
    machine = psutil.cpu_percent(None)
    load1 = os.getloadavg()[0]
    drops = httpx.get(f"{url}/api/v1/stream/stats", timeout=60).json()["data"]["slow_drops"]
    out = [row for _ in workers for row in results.get(timeout=120)]
    for w in workers:
        w.join(30)
    rows = np.array([r for r in out if t0 <= r[1] <= t1])
    if not len(rows):
        raise RuntimeError("no updates received in the window")
    seqs, lat = rows[:, 0], rows[:, 2]
    # per update: the first client's latency (the server's pipeline up to its first write,
    # plus one client's read) and the spread to the last (fan-out and the clients' own CPU)
    first = np.array([lat[seqs == s].min() for s in np.unique(seqs)])
    spread = np.array([np.ptp(lat[seqs == s]) for s in np.unique(seqs)])
    return {
        "clients": clients,
        "client_processes": procs,
        "client_nice": nice,
        "client_loop": loop,
        "compression": compress,
        "window_s": seconds,
        "connected_at_window": stats["channels"]["server-metrics"],
        "updates_in_window": int(len(first)),
        "deliveries": int(len(lat)),
        "publish_to_client_ms": percentiles(lat),
        "publish_to_first_client_ms": percentiles(first),
        "first_to_last_client_ms": percentiles(spread),
        "server_cpu_percent_of_one_core": round(100 * (cpu1 - cpu0) / seconds, 1),
        "server_cpu_ms_per_delivery": round(1000 * (cpu1 - cpu0) / len(lat), 3),
        "clients_cpu_percent_of_one_core": round(100 * (ccpu1 - ccpu0) / seconds, 1),
        "machine_cpu_percent_of_all_cores": round(machine, 1),
        "cores": psutil.cpu_count(),
        "slow_drops": drops,
        "machine_load_1m_start_end": [round(load0, 1), round(load1, 1)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--tick", type=int, default=1, help="simulator interval, seconds")
    parser.add_argument("--procs", type=int, default=2, help="client processes")
    parser.add_argument("--compression", choices=COMPRESSION, default="shared")
    parser.add_argument("--client-nice", type=int, default=0, help="nice level of the clients")
    parser.add_argument("--client-loop", choices=("asyncio", "uvloop"), default="asyncio")
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
                args.client_loop,
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
