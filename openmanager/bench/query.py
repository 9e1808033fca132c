"""`openmanager bench query`: the peer harness's fixed PromQL suite against OpenManager,
Prometheus and VictoriaMetrics in one run, on the same workload, with per-cell ratios.

Each target is loaded (or reused from a previous run's directory), served on a free loopback
port, timed with the harness's own `bench_queries.py` in a subprocess (the same client for all
three), and stopped by PID. Values are compared cell by cell with the harness's `compare`.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

from openmanager.bench.process import serve_command, stop_process, wait_ready
from openmanager.config.settings import StorageSettings
from openmanager.promql.engine import Engine
from openmanager.services.backfill import Progress, backfill
from openmanager.tsdb.engine import EmbeddedStorage

DEFAULT_HARNESS = Path("/work/shared/peers/tsdb")
LOADED_MARKER = "bench-query-loaded.json"
Say = Callable[[str], None]


@dataclass
class Cell:
    """One query x window of one target: timings (ms), result size and value agreement."""

    name: str
    range: str
    median_ms: dict[str, float] = field(default_factory=dict)
    series: dict[str, int] = field(default_factory=dict)
    points: dict[str, int] = field(default_factory=dict)
    agree_pct: dict[str, float] = field(default_factory=dict)
    """Per target: % of (series, timestamp) points within 1e-5 of Prometheus's value."""
    worst_rel_diff: dict[str, float] = field(default_factory=dict)
    closed_agree_pct: float | None = None
    """OpenManager's engine in Prometheus 2 mode (closed windows) against Prometheus 2.42."""
    closed_worst_rel_diff: float | None = None

    def ratio(self, target: str, base: str = "prometheus") -> float:
        """Median time of `target` over `base`."""
        return self.median_ms[target] / self.median_ms[base]


@dataclass
class QueryBench:
    """The whole run: cells, load times and what each target is."""

    cells: list[Cell] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    load_s: dict[str, float] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    reps: int = 7

    def geomean(self, target: str) -> float:
        """Geometric mean of `target`'s time ratios to Prometheus over all cells."""
        logs = [math.log(c.ratio(target)) for c in self.cells]
        return math.exp(sum(logs) / len(logs)) if logs else math.nan

    def worst(self, target: str) -> Cell:
        """The cell with `target`'s highest ratio to Prometheus."""
        return max(self.cells, key=lambda c: c.ratio(target))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures, with geomean and worst cell per target."""
        out = asdict(self)
        out["summary"] = {
            t: {
                "geomean_vs_prometheus": self.geomean(t),
                "worst_cell": f"{self.worst(t).name} {self.worst(t).range}",
                "worst_ratio": self.worst(t).ratio(t),
                "all_values_agree": all(c.agree_pct.get(t, 100.0) == 100.0 for c in self.cells),
            }
            for t in self.targets
        }
        if any(c.closed_agree_pct is not None for c in self.cells):
            out["summary"]["openmanager"]["all_values_agree_prometheus2_windows"] = all(
                c.closed_agree_pct == 100.0 for c in self.cells
            )
        return out


def harness_module(harness: Path) -> ModuleType:
    """The harness's `bench_queries.py` as a module (its QUERIES, RANGES and `compare`)."""
    spec = importlib.util.spec_from_file_location("bench_queries", harness / "bench_queries.py")
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"no bench_queries.py in {harness}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---- loading -------------------------------------------------------------------------------


def _marker_ok(directory: Path, manifest: dict[str, Any]) -> bool:
    marker = directory / LOADED_MARKER
    if not marker.is_file():
        return False
    return bool(json.loads(marker.read_text()).get("sha256") == _workload_id(manifest))


def _workload_id(manifest: dict[str, Any]) -> str:
    return str(manifest["files"]["fleet.om"]["sha256"])


def _mark(directory: Path, manifest: dict[str, Any], seconds: float) -> None:
    (directory / LOADED_MARKER).write_text(
        json.dumps({"sha256": _workload_id(manifest), "load_s": seconds})
    )


def _previous_load_s(directory: Path) -> float:
    return float(json.loads((directory / LOADED_MARKER).read_text()).get("load_s", math.nan))


def bench_storage_settings(data_dir: Path) -> StorageSettings:
    """Store settings that accept the workload's 2024 timestamps and keep the whole week."""
    return StorageSettings(
        path=data_dir,
        out_of_order_window="100y",
        future_tolerance="10m",
        wal_fsync=False,
    )


def load_openmanager(
    workload: Path, data_dir: Path, manifest: dict[str, Any], progress: Progress | None = None
) -> float:
    """Backfill `fleet.om` into an embedded store at data_dir (reused if already loaded)."""
    if _marker_ok(data_dir, manifest):
        return _previous_load_s(data_dir)
    if data_dir.exists() and any(data_dir.iterdir()):
        raise FileExistsError(f"{data_dir} holds another store; pass an empty or loaded dir")
    started = time.perf_counter()
    storage = EmbeddedStorage(data_dir, bench_storage_settings(data_dir))
    try:
        report = backfill(storage, workload / "fleet.om", progress=progress)
        if report.samples_stored != manifest["samples"]:
            raise RuntimeError(
                f"OpenManager stored {report.samples_stored} of {manifest['samples']} samples: "
                f"{report.errors[:3]}"
            )
        storage.maintain()
    finally:
        storage.close()
    seconds = time.perf_counter() - started
    _mark(data_dir, manifest, seconds)
    return seconds


def load_prometheus(workload: Path, data_dir: Path, manifest: dict[str, Any]) -> float:
    """promtool's OpenMetrics backfill into 18h blocks, as the harness does (reused if loaded)."""
    if _marker_ok(data_dir, manifest):
        return _previous_load_s(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    subprocess.run(
        [
            "promtool",
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "-r",
            "--max-block-duration=24h",
            str(workload / "fleet.om"),
            str(data_dir),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    seconds = time.perf_counter() - started
    _mark(data_dir, manifest, seconds)
    return seconds


def load_victoriametrics(
    url: str, workload: Path, data_dir: Path, manifest: dict[str, Any]
) -> float:
    """Import `fleet.prom`, flush and merge into one part (reused if already loaded)."""
    if _marker_ok(data_dir, manifest):
        return _previous_load_s(data_dir)
    started = time.perf_counter()
    with httpx.Client(timeout=None) as client, (workload / "fleet.prom").open("rb") as fh:
        client.post(f"{url}/api/v1/import/prometheus", content=_chunks(fh)).raise_for_status()
        client.get(f"{url}/internal/force_flush").raise_for_status()
        _wait_vm_rows(client, url, int(manifest["samples"]))
        client.get(f"{url}/internal/force_merge", params={"partition_prefix": "2024_01"})
    seconds = time.perf_counter() - started
    _mark(data_dir, manifest, seconds)
    return seconds


def _chunks(fh: Any, size: int = 1 << 20) -> Iterator[bytes]:
    while block := fh.read(size):
        yield block


def _wait_vm_rows(client: httpx.Client, url: str, want: int, timeout_s: float = 600) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        rows = 0.0
        for line in client.get(f"{url}/metrics").text.splitlines():
            if line.startswith('vm_rows{type="storage/'):
                rows += float(line.rsplit(" ", 1)[1])
        if rows >= want:
            return
        time.sleep(0.5)
    raise TimeoutError(f"VictoriaMetrics shows fewer than {want} rows after {timeout_s}s")


# ---- servers -------------------------------------------------------------------------------


@contextmanager
def _server(
    name: str, cmd: Callable[[int], list[str]], ready: str, log: Path, env: dict[str, str] | None
) -> Iterator[str]:
    """Start `cmd(port)`, wait for `ready` to answer 200, yield the URL, stop it by PID."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("ab") as fh:
        proc = subprocess.Popen(cmd(port), stdout=fh, stderr=subprocess.STDOUT, env=env)
    try:
        wait_ready(
            proc, url + ready, name=name, timeout_s=300, probe_timeout_s=2,
            exit_detail=lambda: f"; log {log}",
        )  # fmt: skip
        yield url
    finally:
        stop_process(proc, timeout_s=30)


def serve_openmanager(data_dir: Path, log: Path) -> Any:
    """`openmanager serve` over a loaded store, simulator off."""
    env = {**os.environ, "OPENMANAGER_SERVER__LOG_LEVEL": "warning"}
    return _server(
        "openmanager",
        lambda port: serve_command(port, data_dir, "--no-simulator"),
        "/-/ready",
        log,
        env,
    )


def serve_prometheus(data_dir: Path, work: Path) -> Any:
    """Prometheus over promtool's blocks (15d retention, so its compactor leaves them alone)."""
    config = work / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 15s\nscrape_configs: []\n")
    return _server(
        "prometheus",
        lambda port: [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={data_dir}",
            "--storage.tsdb.retention.time=15d",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        "/-/ready",
        work / "prometheus.log",
        None,
    )


def serve_victoriametrics(data_dir: Path, work: Path) -> Any:
    """A single-node VictoriaMetrics with 10y retention (the data is dated 2024)."""
    return _server(
        "victoriametrics",
        lambda port: [
            "victoria-metrics",
            f"-storageDataPath={data_dir}",
            f"-httpListenAddr=127.0.0.1:{port}",
            "-retentionPeriod=10y",
            "-loggerLevel=WARN",
        ],
        "/health",
        work / "victoriametrics.log",
        None,
    )


# ---- the run -------------------------------------------------------------------------------


def run_suite(
    harness: Path, url: str, label: str, reps: int, out: Path, extra: dict[str, str] | None = None
) -> dict[str, Any]:
    """The harness's client, in its own process, against one target; its JSON result."""
    cmd = [
        sys.executable,
        str(harness / "bench_queries.py"),
        "--url",
        url,
        "--label",
        label,
        "--reps",
        str(reps),
        "--out",
        str(out),
    ]
    for key, value in (extra or {}).items():
        cmd += ["--extra", f"{key}={value}"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return dict(json.loads(out.read_text()))


def run(
    workload: Path,
    work: Path,
    *,
    harness: Path = DEFAULT_HARNESS,
    om_data: Path | None = None,
    reps: int = 7,
    targets: tuple[str, ...] = ("openmanager", "prometheus", "victoriametrics"),
    say: Say | None = None,
    progress: Progress | None = None,
) -> QueryBench:
    """Load, serve and time every target; Prometheus is always run (it is the baseline)."""
    tell = say or (lambda _msg: None)
    manifest = json.loads((workload / "manifest.json").read_text())
    work.mkdir(parents=True, exist_ok=True)
    module = harness_module(harness)
    bench = QueryBench(reps=reps)
    results: dict[str, dict[str, Any]] = {}
    order = ["prometheus", *[t for t in targets if t != "prometheus"]]
    for target in order:
        out = work / f"queries-{target}.json"
        if target == "prometheus":
            data = work / "prometheus-data"
            tell("prometheus: promtool backfill (reused when already loaded)")
            bench.load_s[target] = load_prometheus(workload, data, manifest)
            tell("prometheus: query suite")
            with serve_prometheus(data, work) as url:
                results[target] = run_suite(harness, url, target, reps, out)
        elif target == "victoriametrics":
            data = work / "victoriametrics-data"
            with serve_victoriametrics(data, work) as url:
                tell("victoriametrics: import (reused when already loaded)")
                data.mkdir(parents=True, exist_ok=True)
                bench.load_s[target] = load_victoriametrics(url, workload, data, manifest)
                tell("victoriametrics: query suite")
                results[target] = run_suite(harness, url, target, reps, out, {"nocache": "1"})
        elif target == "openmanager":
            data = om_data or work / "openmanager-data"
            tell(f"openmanager: backfill into {data} (reused when already loaded)")
            bench.load_s[target] = load_openmanager(workload, data, manifest, progress)
            tell("openmanager: query suite")
            with serve_openmanager(data, work / "openmanager.log") as url:
                results[target] = run_suite(harness, url, target, reps, out)
            tell("openmanager: the same cells with Prometheus 2 windows, for value agreement")
            closed = closed_window_results(data, module)
        else:
            raise ValueError(f"unknown target {target!r}")
        bench.targets.append(target)
    _cells(bench, results, module)
    if "openmanager" in results:
        rows = module.compare(results["prometheus"], closed)
        for cell, row in zip(bench.cells, rows, strict=True):
            cell.closed_agree_pct = row["points_agree_pct"]
            cell.closed_worst_rel_diff = row["worst_rel_diff"]
    (work / "bench-query.json").write_text(json.dumps(bench.to_dict(), indent=1))
    return bench


def closed_window_results(data_dir: Path, module: ModuleType) -> dict[str, Any]:
    """Every cell evaluated in-process by `Engine(closed_windows=True)`, in the harness's shape.

    Prometheus 2.42 (Debian's) closes its windows; the workload's samples sit on the query
    grid, so Prometheus 3 semantics (ours) legitimately differ from it at window edges. This
    pass checks every value against Prometheus with only that edge rule switched.
    """
    storage = EmbeddedStorage(data_dir, bench_storage_settings(data_dir))
    try:
        engine = Engine(storage, closed_windows=True)
        queries = []
        for name, query in module.QUERIES:
            for rname, (start, end, step) in module.RANGES.items():
                res = engine.range_query(query, start * 1000, end * 1000, step * 1000)
                result = {
                    json.dumps(dict(s.labels), sort_keys=True): [
                        [_json_ts(t), repr(v)]
                        for t, v in zip(s.timestamps.tolist(), s.values.tolist(), strict=True)
                    ]
                    for s in res.series
                }
                queries.append({"name": name, "range": rname, "result": result})
        return {"queries": queries}
    finally:
        storage.close()


def _json_ts(ms: int) -> int | float:
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


def _cells(bench: QueryBench, results: dict[str, dict[str, Any]], module: ModuleType) -> None:
    base = results["prometheus"]
    agreement = {
        t: {(r["name"], r["range"]): r for r in module.compare(base, results[t])}
        for t in results
        if t != "prometheus"
    }
    for q in base["queries"]:
        key = (q["name"], q["range"])
        cell = Cell(q["name"], q["range"])
        for target, res in results.items():
            rec = next(r for r in res["queries"] if (r["name"], r["range"]) == key)
            cell.median_ms[target] = rec["median_ms"]
            cell.series[target] = rec["series"]
            cell.points[target] = rec["points"]
            if target in agreement:
                row = agreement[target][key]
                cell.agree_pct[target] = row["points_agree_pct"]
                cell.worst_rel_diff[target] = row["worst_rel_diff"]
        bench.cells.append(cell)
