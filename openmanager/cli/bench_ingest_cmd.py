"""`openmanager bench ingest`: remote-write ingest throughput beside Prometheus and VictoriaMetrics.

Each receiver starts fresh on a loopback port (`openmanager serve --no-simulator`, Prometheus
with `--web.enable-remote-write-receiver`, `victoria-metrics`); the peers' own sender
(`remote_write.py` of the peer harness: the same deterministic workload, Prometheus-shaped
requests, pre-encoded, parallel connections) pushes to each in turn, and the samples each one
stored are counted from its own metrics. All figures come from the same run on this machine.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import typer

from openmanager.bench.process import stop_process, wait_ready
from openmanager.cli.bench_cmd import app
from openmanager.cli.common import console

DEFAULT_PEERS = Path(os.environ.get("OPENMANAGER_PEERS_DIR", "/work/shared/peers/tsdb"))
RECEIVERS = ("openmanager", "prometheus", "victoriametrics")


@dataclass(frozen=True)
class Receiver:
    """How to start one receiver, where it is ready, and how to count what it stored."""

    name: str
    command: Callable[[Path, int], list[str]]
    env: dict[str, str]
    ready_path: str
    stored: Callable[[str], int]


def free_port() -> int:
    """A loopback TCP port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _metric_sum(url: str, prefix: str) -> int:
    """Sum of the samples of `url/metrics` whose series text starts with `prefix`."""
    text = httpx.get(f"{url}/metrics", timeout=60).text
    return int(sum(float(ln.split()[-1]) for ln in text.splitlines() if ln.startswith(prefix)))


def _om_stored(url: str) -> int:
    return int(httpx.get(f"{url}/api/v1/status/storage", timeout=300).json()["data"]["samples"])


def _prom_stored(url: str) -> int:
    time.sleep(2)
    return _metric_sum(url, "prometheus_tsdb_head_samples_appended_total")


def _vm_stored(url: str) -> int:
    httpx.get(f"{url}/internal/force_flush", timeout=60)
    time.sleep(2)
    return _metric_sum(url, 'vm_rows{type="storage/big"}') + _metric_sum(
        url, 'vm_rows{type="storage/small"}'
    )


def _prom_command(work: Path, port: int) -> list[str]:
    config = work / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 15s\nscrape_configs: []\n")
    return [
        "prometheus",
        f"--config.file={config}",
        f"--storage.tsdb.path={work / 'data'}",
        "--web.enable-remote-write-receiver",
        f"--web.listen-address=127.0.0.1:{port}",
        "--storage.tsdb.retention.time=100y",
        "--log.level=warn",
    ]


def receivers(fsync: bool) -> dict[str, Receiver]:
    """The three receivers, OpenManager with its WAL fsync on or off."""
    om_env = {
        "OPENMANAGER_PROFILE": "production",
        "OPENMANAGER_SERVER__LOG_LEVEL": "warning",
        "OPENMANAGER_STORAGE__WAL_FSYNC": "true" if fsync else "false",
        "OPENMANAGER_STORAGE__RETENTION__RAW": "100y",
    }
    return {
        "openmanager": Receiver(
            "openmanager",
            lambda work, port: [
                sys.executable,
                "-m",
                "openmanager.cli.main",
                "serve",
                "--no-simulator",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--data",
                str(work / "data"),
            ],
            om_env,
            "/-/ready",
            _om_stored,
        ),
        "prometheus": Receiver("prometheus", _prom_command, {}, "/-/ready", _prom_stored),
        "victoriametrics": Receiver(
            "victoriametrics",
            lambda work, port: [
                "victoria-metrics",
                f"-storageDataPath={work / 'data'}",
                f"-httpListenAddr=127.0.0.1:{port}",
                "-retentionPeriod=100y",
                "-loggerLevel=WARN",
            ],
            {},
            "/health",
            _vm_stored,
        ),
    }


@contextmanager
def running(receiver: Receiver, work: Path) -> Iterator[str]:
    """Start the receiver in `work`, wait until ready, yield its URL; stop it by PID."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = work / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            receiver.command(work, port),
            env={**os.environ, **receiver.env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_ready(
            proc, url + receiver.ready_path, name=receiver.name, timeout_s=120,
            exit_detail=lambda: f": {log.read_text()[-2000:]}",
        )  # fmt: skip
        yield url
    finally:
        stop_process(proc, timeout_s=120)


def push(receiver: Receiver, peers: Path, days: int, conns: int, batch: int) -> dict[str, Any]:
    """Push the workload into a fresh receiver; the sender's figures plus rows stored."""
    with tempfile.TemporaryDirectory(prefix=f"rw-{receiver.name}-") as tmp:
        work = Path(tmp)
        with running(receiver, work) as url:
            out = work / "rw.json"
            subprocess.run(
                [sys.executable, str(peers / "remote_write.py"), "--url", f"{url}/api/v1/write",
                 "--days", str(days), "--conns", str(conns), "--batch", str(batch),
                 "--out", str(out)],
                check=True,
            )  # fmt: skip
            result: dict[str, Any] = json.loads(out.read_text())
            result.update(target=receiver.name, rows_stored=receiver.stored(url))
    return result


def table(results: dict[str, dict[str, Any]]) -> str:
    """The comparison as text: samples, stored, wall, samples/s, ratio to Prometheus."""
    prom = results.get("prometheus", {}).get("samples_per_s")
    lines = [
        f"{'receiver':<16} {'samples':>10} {'stored':>10} {'errors':>6} {'wall s':>7} "
        f"{'samples/s':>11} {'p99 ms':>8} {'x prom':>7}"
    ]
    for name, r in results.items():
        ratio = f"{r['samples_per_s'] / prom:.2f}" if prom else "-"
        lines.append(
            f"{name:<16} {r['samples']:>10} {r['rows_stored']:>10} {r['errors']:>6} "
            f"{r['wall_s']:>7.2f} {r['samples_per_s']:>11,} {r['req_latency_ms_p99']:>8} "
            f"{ratio:>7}"
        )
    return "\n".join(lines)


def run_all(
    names: list[str], peers: Path, days: int, conns: int, batch: int, fsync: bool
) -> dict[str, dict[str, Any]]:
    """Push the workload into each named receiver in turn."""
    known = receivers(fsync)
    for name in names:
        if name not in known:
            raise typer.BadParameter(f"unknown receiver {name!r}; choose from {RECEIVERS}")
        if name != "openmanager" and shutil.which(known[name].command(Path("/"), 0)[0]) is None:
            raise typer.BadParameter(f"{name}: binary not installed")
    return {name: push(known[name], peers, days, conns, batch) for name in names}


@app.command("ingest")
def ingest(
    days: int = typer.Option(7, help="Days of the 20-server workload (7 = 20.16 M samples)."),
    conns: int = typer.Option(2, help="Parallel connections (remote-write shards)."),
    batch: int = typer.Option(2000, help="Samples per request (max_samples_per_send)."),
    receiver: list[str] = typer.Option(list(RECEIVERS), help="Receivers to measure, in order."),
    fsync: bool = typer.Option(True, help="OpenManager fsyncs its WAL before answering."),
    peers: Path = typer.Option(DEFAULT_PEERS, help="The peer harness (remote_write.py)."),
    out: Path | None = typer.Option(None, help="Write the raw figures as JSON here."),
) -> None:
    """Remote-write throughput of OpenManager, Prometheus and VictoriaMetrics, same run."""
    results = run_all(receiver, peers, days, conns, batch, fsync)
    console.print(table(results), highlight=False, soft_wrap=True)
    om = results.get("openmanager")
    if om is not None:
        complete = om["rows_stored"] == om["samples"] and om["errors"] == 0
        console.print(f"openmanager stored every sample: {complete} (fsync={fsync})")
    if out is not None:
        out.write_text(json.dumps(results, indent=1))


def parse_rates(points: int, series: int, repeats: int) -> dict[str, float]:
    """Lines/s of the exposition parser: OpenMetrics history (timestamps) and a scrape page."""
    import io

    import numpy as np

    from openmanager.ingest.exposition_parse import ParseOptions, parse_text
    from openmanager.ingest.exposition_write import write_openmetrics
    from openmanager.samples import SampleBatch, make_labels

    rng = np.random.default_rng(1)
    stamps = 1_700_000_000_000 + np.arange(points, dtype=np.int64) * 15_000
    batch = SampleBatch.from_series(
        [
            (make_labels("node_cpu_usage_percent", {"server": f"srv-{i}", "dc": "dc-1"}),
             stamps, np.round(rng.uniform(0, 100, points), 2))
            for i in range(series)
        ]
    )  # fmt: skip
    history = io.BytesIO()
    write_openmetrics(batch, history)
    page = "".join(
        f'node_cpu_seconds_total{{cpu="{i % 64}",mode="m{i // 64}"}} {i * 1.5}\n'
        for i in range(series * 4)
    ).encode()
    out: dict[str, float] = {}
    for name, data, fmt in (
        ("openmetrics history", history.getvalue(), "openmetrics"),
        ("text scrape page", page, "text"),
    ):
        lines = data.count(b"\n")
        options = ParseOptions(format=fmt, strict=True, default_timestamp_ms=0)  # type: ignore[arg-type]
        best = float("inf")
        for _ in range(repeats):
            started = time.perf_counter()
            parse_text(data, options)
            best = min(best, time.perf_counter() - started)
        out[name] = lines / best
    return out


@app.command("parse")
def parse(
    points: int = typer.Option(2000, help="Points per series of the history exposition."),
    series: int = typer.Option(500, help="Series of the history exposition."),
    repeats: int = typer.Option(3, help="Timed runs (best is reported)."),
) -> None:
    """Exposition parser throughput in lines/s (best of `repeats`)."""
    for name, rate in parse_rates(points, series, repeats).items():
        console.print(f"{name:<22} {rate:>14,.0f} lines/s", highlight=False)
