"""Start the real peers (VictoriaMetrics, Prometheus) on a free loopback port for a test.

Each runner is a context manager that yields the base URL once the peer answers its
readiness endpoint, keeps the peer's log in the temp dir (shown if it fails to start), and
stops the process it started by PID on exit. A missing binary skips the test locally and
fails it under CI (`CI=true`), through `tests.helpers.require_binary`.

    with run_victoriametrics(tmp_path) as url: ...
    with run_prometheus(tmp_path, "scrape_configs: []", ["--web.enable-remote-write-receiver"]) as url: ...
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.helpers import free_port, require_binary

START_ATTEMPTS = 3  # a free port can be taken between probing and binding; retry on a new one


class PeerStartError(RuntimeError):
    """The peer exited or never became ready; the message carries its log tail."""


@contextmanager
def run_victoriametrics(
    tmp_path: Path, extra_args: Sequence[str] = (), timeout_s: float = 30.0
) -> Iterator[str]:
    """A single-node `victoria-metrics` with its data under tmp_path; yields its base URL."""
    binary = require_binary("victoria-metrics")
    data = tmp_path / "victoria-metrics-data"

    def command(port: int) -> list[str]:
        return [
            binary,
            f"-httpListenAddr=127.0.0.1:{port}",
            f"-storageDataPath={data}",
            "-retentionPeriod=100y",
            "-search.latencyOffset=0s",  # serve just-written samples to instant queries
            "-search.disableCache",
            *extra_args,
        ]

    with _run("victoria-metrics", command, tmp_path, "/health", timeout_s) as url:
        yield url


@contextmanager
def run_prometheus(
    tmp_path: Path,
    config_yaml: str = "global: {}\n",
    extra_args: Sequence[str] = (),
    timeout_s: float = 60.0,
) -> Iterator[str]:
    """A `prometheus` server with `config_yaml` and its TSDB under tmp_path; yields its base URL.

    Pass e.g. `["--web.enable-remote-write-receiver", "--web.enable-admin-api"]` as extra_args.
    """
    binary = require_binary("prometheus")
    config = tmp_path / "prometheus.yml"
    config.write_text(config_yaml)
    data = tmp_path / "prometheus-data"

    def command(port: int) -> list[str]:
        return [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=100y",
            *extra_args,
        ]

    with _run("prometheus", command, tmp_path, "/-/ready", timeout_s) as url:
        yield url


@contextmanager
def _run(
    name: str,
    command: Callable[[int], list[str]],
    tmp_path: Path,
    ready_path: str,
    timeout_s: float,
) -> Iterator[str]:
    """Start `command(port)`, poll `ready_path` until 200, yield the URL, stop it by PID."""
    log_path = tmp_path / f"{name}.log"
    last_error = ""
    for _ in range(START_ATTEMPTS):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                command(port), stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path
            )
        try:
            if _wait_ready(proc, url + ready_path, timeout_s):
                yield url
                return
            last_error = f"{name} exited with code {proc.returncode}"
        except PeerStartError as exc:
            raise PeerStartError(f"{exc}; log {log_path}:\n{_tail(log_path)}") from None
        finally:
            _stop(proc)
    raise PeerStartError(
        f"{last_error} after {START_ATTEMPTS} attempts; log {log_path}:\n{_tail(log_path)}"
    )


def _tail(log_path: Path) -> str:
    return log_path.read_text(errors="replace")[-3000:] if log_path.exists() else ""


def _wait_ready(proc: subprocess.Popen[bytes], url: str, timeout_s: float) -> bool:
    """True once `url` answers 200; False if the process exits first; TimeoutError otherwise."""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=1.0) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            try:
                if client.get(url).status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.05)
    raise PeerStartError(f"{url} not ready after {timeout_s}s (pid {proc.pid})")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate the process we started (by its PID), then kill it if it lingers."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@contextmanager
def run_node_exporter(
    tmp_path: Path, extra_args: Sequence[str] = (), timeout_s: float = 30.0
) -> Iterator[str]:
    """Debian's `prometheus-node-exporter` on a free port (empty textfile dir); yields its URL."""
    binary = require_binary("prometheus-node-exporter")
    textfiles = tmp_path / "node-exporter-textfiles"
    textfiles.mkdir(exist_ok=True)

    def command(port: int) -> list[str]:
        return [
            binary,
            f"--web.listen-address=127.0.0.1:{port}",
            f"--collector.textfile.directory={textfiles}",
            *extra_args,
        ]

    with _run("node-exporter", command, tmp_path, "/metrics", timeout_s) as url:
        yield url


@contextmanager
def run_influxdb(tmp_path: Path, timeout_s: float = 30.0) -> Iterator[str]:
    """Debian's `influxd` (InfluxDB 1.x) with its data under tmp_path; yields its HTTP URL."""
    binary = require_binary("influxd")
    root = tmp_path / "influxdb"
    config = tmp_path / "influxdb.conf"

    def command(port: int) -> list[str]:
        config.write_text(
            "reporting-disabled = true\n"
            f'bind-address = "127.0.0.1:{free_port()}"\n'
            f'[meta]\n  dir = "{root}/meta"\n'
            f'[data]\n  dir = "{root}/data"\n  wal-dir = "{root}/wal"\n'
            f'[http]\n  bind-address = "127.0.0.1:{port}"\n  log-enabled = false\n'
            "[monitor]\n  store-enabled = false\n"
        )
        return [binary, "run", "-config", str(config)]

    # /ping answers 204; a query answers 200 once the HTTP service is up
    with _run("influxdb", command, tmp_path, "/query?q=SHOW+DATABASES", timeout_s) as url:
        yield url
