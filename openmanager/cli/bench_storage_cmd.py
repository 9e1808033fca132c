"""`openmanager bench storage`: bytes/sample, bulk-load speed and head memory beside the peers.

Loads the peers' workload file into OpenManager (bulk import, bit-exact read-back), runs the
peers' own Prometheus (promtool create-blocks) and VictoriaMetrics load scripts in place on the
same files, and prints one table of the figures measured in this run (`openmanager.bench.storage`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from rich.table import Table

from openmanager.bench import peers, storage
from openmanager.cli.bench_cmd import app
from openmanager.cli.common import console, fail
from openmanager.errors import OpenManagerError

DEFAULT_WORK = Path("/tmp/openmanager-bench-storage")


class ConsoleEvents:
    """Stage lines with elapsed time, a byte counter for loads, peer script headlines."""

    def __init__(self, verbose: bool) -> None:
        self.started = time.monotonic()
        self.verbose = verbose
        self._last = 0.0

    def stage(self, name: str) -> None:
        """Print the stage that starts."""
        console.print(f"[bold cyan]{self._clock()}[/] {name}")

    def progress(self, done: int, total: int) -> None:
        """Print read progress at most every 5 seconds."""
        now = time.monotonic()
        if now - self._last < 5:
            return
        self._last = now
        pct = f" ({100 * done / total:.0f}%)" if total else ""
        console.print(f"[dim]{self._clock()}   {done / 2**20:,.0f} MiB{pct}[/]")

    def line(self, text: str) -> None:
        """Show the peer scripts' `==` headlines (all lines with --verbose)."""
        if self.verbose or text.startswith("=="):
            console.print(f"[dim]{self._clock()}   {text}[/]", highlight=False)

    def _clock(self) -> str:
        s = int(time.monotonic() - self.started)
        return f"[{s // 60:02d}:{s % 60:02d}]"


@app.command("storage")
def bench_storage(
    work: Path = typer.Option(DEFAULT_WORK, help="Work directory (stores, peers' data)."),
    workload: Path | None = typer.Option(
        None, help="Workload dir with manifest.json (default WORK/data; generated if missing)."
    ),
    peers_dir: Path | None = typer.Option(
        None, help="The peers' harness (default $OPENMANAGER_PEERS_DIR or shared/peers/tsdb)."
    ),
    days: int = typer.Option(7, min=1, help="Workload days (the peers' default: 7)."),
    servers: int = typer.Option(20, min=1, help="Workload servers (the peers' default: 20)."),
    skip_peers: bool = typer.Option(False, help="Do not run Prometheus and VictoriaMetrics."),
    skip_breakdown: bool = typer.Option(False, help="Skip the per-kind loads."),
    skip_memory: bool = typer.Option(False, help="Skip the head memory measurement."),
    memory_sizes: str = typer.Option("100000,1000000", help="Active series counts to measure."),
    no_verify: bool = typer.Option(False, help="Skip the bit-exact read-back check."),
    maintain: bool = typer.Option(False, help="Also run maintain() (rollups) after the load."),
    check_hashes: bool = typer.Option(False, help="Check the workload's sha256s first."),
    json_out: Path | None = typer.Option(None, "--json", help="Also write all figures here."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show every peer script line."),
) -> None:
    """Load the peers' workload into OpenManager, Prometheus and VictoriaMetrics; compare."""
    try:
        sizes = tuple(int(x) for x in memory_sizes.split(",") if x.strip())
    except ValueError as exc:
        raise typer.BadParameter(f"--memory-sizes {memory_sizes!r}: {exc}") from exc
    opts = storage.Options(
        work=work,
        harness=peers_dir or peers.default_harness(),
        workload_dir=workload,
        days=days,
        servers=servers,
        peers=not skip_peers,
        breakdown=not skip_breakdown,
        memory=not skip_memory,
        memory_sizes=sizes,
        verify=not no_verify,
        maintain=maintain,
        check_hashes=check_hashes,
    )
    try:
        result = storage.run(opts, ConsoleEvents(verbose))
    except OpenManagerError as exc:
        raise fail(exc) from exc
    print_result(result)
    if json_out is not None:
        json_out.write_text(json.dumps(result.to_dict(), indent=1, default=str))
        console.print(f"figures written to {json_out}")
    verify = result.embedded.verify
    if verify is not None and not verify["ok"]:
        raise typer.Exit(1)


def print_result(r: storage.Result) -> None:
    """The summary, per-kind and head memory tables."""
    e = r.embedded
    console.print(
        f"\nWorkload {r.workload_dir}: {r.samples:,} samples, {r.series:,} series. "
        "Figures from this run; wall-clock speeds depend on how loaded the cores are."
    )
    t = Table(title="Storage: bytes/sample on disk (data + index) and bulk load")
    for col in (
        "system",
        "B/sample",
        "samples/s",
        "wall s",
        "OM÷it B/s",
        "OM÷it load",
    ):
        t.add_column(col, justify="left" if col == "system" else "right", no_wrap=True)
    om_bps, om_rate = r.openmanager_bytes_per_sample, e.load_samples_per_s
    t.add_row("OpenManager", f"{om_bps:.3f}", f"{om_rate:,.0f}", f"{e.load_wall_s:.1f}", "", "")
    for p in r.peers:
        t.add_row(
            p.name,
            f"{p.bytes_per_sample:.3f}",
            f"{p.load_samples_per_s:,.0f}",
            f"{p.load_wall_s:.1f}",
            f"{om_bps / p.bytes_per_sample:.2f}",
            f"{om_rate / p.load_samples_per_s:.2f}",
        )
    console.print(t)
    check = "not checked" if e.verify is None else ("OK" if e.verify["ok"] else "FAILED")
    console.print(
        f"OpenManager: {e.samples_stored:,} samples stored (stats: {e.stats_samples:,}), "
        f"read-back bit-exact: {check}; load {e.load_cpu_samples_per_s:,.0f} samples per "
        f"CPU-second (parse workers included), peak RSS {e.peak_rss_mib:,.0f} MiB."
    )
    if r.kinds:
        k = Table(title="Bytes/sample per value kind (peers' breakdown.py split)")
        for col in ("kind", "samples", "OM", "VM", "Prom", "OM÷VM"):
            k.add_column(col, justify="left" if col == "kind" else "right", no_wrap=True)
        for row in r.kinds:
            vm = row.victoriametrics
            k.add_row(
                row.kind,
                f"{row.samples:,}",
                f"{row.openmanager:.3f}",
                "-" if vm is None else f"{vm:.3f}",
                "-" if row.prometheus is None else f"{row.prometheus:.3f}",
                "-" if not vm else f"{row.openmanager / vm:.2f}",
            )
        console.print(k)
    if r.memory:
        m = Table(title="Head memory per active series (fresh process per size)")
        for col in (
            "active series",
            "samples/series",
            "RSS MiB",
            "B/series",
            "after trim",
            "of which samples",
        ):
            m.add_column(col, justify="right")
        for mem in r.memory:
            m.add_row(
                f"{mem['series']:,}",
                str(mem["samples_per_series"]),
                f"{mem['rss_mib']:.1f}",
                f"{mem['bytes_per_series']:.0f}",
                f"{mem['trimmed_bytes_per_series']:.0f}",
                f"{mem['sample_arrays_per_series']:.0f}",
            )
        console.print(m)
