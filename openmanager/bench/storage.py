"""`bench storage`: the peers' workload into OpenManager, Prometheus and VictoriaMetrics, one run.

Stages: workload (the peers' generator, reused when its manifest matches), the embedded load
(bulk import, bit-exact read-back), the per-kind loads (the peers' kind table), the peers'
own load scripts and per-kind breakdown, and head memory per active series. Every stage can
be skipped; `Events` tells the caller what runs so it can show progress.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from openmanager.bench import embedded, head_memory, kinds, peers, workload
from openmanager.bench.embedded import EmbeddedRun
from openmanager.bench.peers import PeerRun


class Events(Protocol):
    """What the runner reports while it works."""

    def stage(self, name: str) -> None:
        """A stage starts."""

    def progress(self, done: int, total: int) -> None:
        """Bytes of the current load file read so far."""

    def line(self, text: str) -> None:
        """A line of a peer script's output."""


@dataclass(frozen=True)
class Options:
    """What to run and where."""

    work: Path
    harness: Path
    workload_dir: Path | None = None
    days: int = 7
    servers: int = 20
    peers: bool = True
    breakdown: bool = True
    memory: bool = True
    memory_sizes: tuple[int, ...] = (100_000, 1_000_000)
    memory_samples: int = 4
    verify: bool = True
    maintain: bool = False
    check_hashes: bool = False
    reps: int = 1


@dataclass
class KindRow:
    """Bytes per sample of one value kind, per system (None where not measured)."""

    kind: str
    samples: int
    openmanager: float
    victoriametrics: float | None = None
    prometheus: float | None = None


@dataclass
class Result:
    """Everything one run measured."""

    samples: int
    series: int
    workload_dir: str
    embedded: EmbeddedRun
    peers: list[PeerRun] = field(default_factory=list)
    kinds: list[KindRow] = field(default_factory=list)
    memory: list[dict[str, Any]] = field(default_factory=list)

    @property
    def openmanager_bytes_per_sample(self) -> float:
        """Raw tier (chunks + index + meta) plus WAL, per stored sample."""
        return self.embedded.bytes_per_sample_raw_wal

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return asdict(self)


def run(opts: Options, events: Events) -> Result:
    """Run every enabled stage in order; the peers run after OpenManager, on the same files."""
    opts.work.mkdir(parents=True, exist_ok=True)
    events.stage("workload")
    wl_dir = opts.workload_dir or opts.work / "data"
    wl, _ = workload.ensure(
        opts.harness,
        wl_dir,
        days=opts.days,
        servers=opts.servers,
        check_hashes=opts.check_hashes,
        progress=lambda done, _s: events.progress(done, 0),
    )
    events.stage("openmanager load")
    store = _fresh(opts.work / "openmanager")
    emb = embedded.measure(
        wl.om,
        store,
        verify=opts.verify,
        settle_store=opts.maintain,
        progress=events.progress,
        stage=events.stage,
    )
    shutil.rmtree(store, ignore_errors=True)
    result = Result(wl.samples, wl.series, str(wl.dir), emb)
    if opts.breakdown:
        events.stage("openmanager per-kind loads")
        result.kinds = _kind_rows(opts, wl.om, events)
    if opts.peers:
        pw = peers.prepare_workdir(opts.work / "peers", wl.dir)
        events.stage("prometheus (promtool create-blocks)")
        result.peers.append(
            peers.run_prometheus(opts.harness, pw, reps=opts.reps, line=events.line)
        )
        events.stage("victoriametrics (import + force merge)")
        result.peers.append(
            peers.run_victoriametrics(opts.harness, pw, reps=opts.reps, line=events.line)
        )
        if opts.breakdown:
            events.stage("peers per-kind breakdown")
            _attach_peer_kinds(
                result.kinds, peers.run_breakdown(opts.harness, pw, line=events.line)
            )
    if opts.memory:
        for n in opts.memory_sizes:
            events.stage(f"head memory at {n:,} series")
            result.memory.append(head_memory.run_size(n, opts.memory_samples))
    return result


def _fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    return path


def _kind_rows(opts: Options, om: Path, events: Events) -> list[KindRow]:
    """Split fleet.om by the peers' kind table and load each part into a fresh store."""
    table = kinds.load_kind_table(opts.harness)
    split_dir = opts.work / "kinds"
    files = kinds.split(om, split_dir, table)
    rows = []
    for kind in sorted(files):
        store = _fresh(opts.work / f"openmanager-{kind}")
        events.stage(f"openmanager kind {kind}")
        run = embedded.measure(files[kind], store, verify=False, settle_store=False)
        rows.append(KindRow(kind, run.samples_stored, run.bytes_per_sample_raw_wal))
        shutil.rmtree(store, ignore_errors=True)
    shutil.rmtree(split_dir, ignore_errors=True)
    return rows


def _attach_peer_kinds(rows: list[KindRow], breakdown: dict[str, Any]) -> None:
    for row in rows:
        peer = breakdown.get(row.kind)
        if peer:
            row.victoriametrics = float(peer["vm_bytes_per_sample"])
            row.prometheus = float(peer["prometheus_bytes_per_sample"])
