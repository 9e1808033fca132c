"""`openmanager backfill`, `openmanager export` and `openmanager tsdb stats`: thin CLI adapters.

Each opens the store named by the configuration, calls one service and prints a Rich summary.
Register `backfill` and `export` at top level and `app` (holding `stats`) as `tsdb`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, cast

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from openmanager.cli.common import ConfigOption, console, fail, settings_or_exit
from openmanager.cli.simulate_cmd import parse_time
from openmanager.config import Settings
from openmanager.errors import InvalidInput, OpenManagerError
from openmanager.ingest.exposition_parse import Format
from openmanager.services.backfill import BackfillReport
from openmanager.services.backfill import backfill as run_backfill
from openmanager.services.export import export_openmetrics, parse_selector
from openmanager.tsdb.factory import open_storage
from openmanager.tsdb.storage import Storage
from openmanager.units import parse_duration

app = typer.Typer(help="Inspect the embedded time-series store.", no_args_is_help=True)
ALL_TIME = (-(2**62), 2**62)


@contextmanager
def _storage(settings: Settings) -> Iterator[Storage]:
    """The configured store, closed on the way out; open errors become a clean exit."""
    try:
        storage: Storage = open_storage(settings.storage)
    except OpenManagerError as exc:
        raise fail(exc) from exc
    try:
        yield storage
    finally:
        storage.close()


def backfill(
    file: Path = typer.Argument(..., help="OpenMetrics or Prometheus text file with timestamps."),
    format: str = typer.Option(
        "auto",
        "--format",
        "-f",
        help="auto (OpenMetrics if the file ends in '# EOF' or is named *.om), text or openmetrics.",
    ),
    chunk_lines: int = typer.Option(
        1_000_000, "--chunk-lines", min=1, help="Lines parsed and appended per batch."
    ),
    max_errors: int = typer.Option(20, "--max-errors", min=0, help="Error messages to print."),
    config: Path | None = ConfigOption,
) -> None:
    """Import a metrics file into the store; bad lines are reported with their line number and skipped."""
    if format not in ("auto", "text", "openmetrics"):
        raise fail(InvalidInput(f"invalid --format {format!r}: use auto, text or openmetrics"))
    settings = settings_or_exit(config)
    columns = (
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with _storage(settings) as storage:
        try:
            with Progress(*columns, console=console, transient=True) as bar:
                task = bar.add_task("backfill", total=None)

                def progress(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                report = run_backfill(
                    storage,
                    file,
                    format=None if format == "auto" else cast(Format, format),
                    chunk_lines=chunk_lines,
                    max_future_ms=parse_duration(settings.storage.future_tolerance),
                    progress=progress,
                    max_errors=max_errors,
                )
        except OpenManagerError as exc:
            raise fail(exc) from exc
    _print_backfill(report)
    if report.rejected_total:
        raise typer.Exit(1)


def _print_backfill(report: BackfillReport) -> None:
    table = Table(title=f"backfill of {report.path} ({report.format})", show_header=False)
    rows = [
        ("lines", f"{report.lines:,}"),
        ("samples read", f"{report.samples_read:,}"),
        ("samples stored", f"{report.samples_stored:,}"),
        ("duplicates (already stored)", f"{report.duplicates:,}"),
        ("series", f"{report.series:,}"),
        ("rejected", f"{report.rejected_total:,}"),
        ("seconds", f"{report.seconds:.2f}"),
        ("samples/s", f"{report.samples_per_second:,.0f}"),
    ]
    rows += [(f"  rejected: {reason}", f"{n:,}") for reason, n in sorted(report.rejected.items())]
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)
    for msg in report.errors:
        console.print(f"[yellow]{msg}[/yellow]", highlight=False, markup=True)
    if report.rejected_total > len(report.errors) and report.errors:
        console.print(f"... {report.rejected_total - len(report.errors):,} more rejected")


def export(
    out: Path = typer.Option(..., "--out", "-o", help="Output file ('-' for stdout)."),
    match: str = typer.Option(
        "",
        "--match",
        "-m",
        help="PromQL series selector, e.g. 'node_cpu_usage_percent{server=\"srv-01\"}' "
        "or '{job=~\"node|app\"}' (default: every series).",
    ),
    start: str | None = typer.Option(
        None, "--start", help="RFC 3339 or Unix time (s or ms); default: the oldest sample."
    ),
    end: str | None = typer.Option(
        None, "--end", help="RFC 3339 or Unix time (s or ms); default: the newest sample."
    ),
    window: str = typer.Option("6h", "--window", help="Time read per step (bounds memory)."),
    config: Path | None = ConfigOption,
) -> None:
    """Write the samples of a time range as OpenMetrics (timestamps in seconds, ends in '# EOF')."""
    settings = settings_or_exit(config)
    try:
        matchers = parse_selector(match) if match.strip() else []
        start_ms = parse_time(start) if start else ALL_TIME[0]
        end_ms = parse_time(end) if end else ALL_TIME[1]
        window_ms = parse_duration(window)
    except OpenManagerError as exc:
        raise fail(exc) from exc
    with _storage(settings) as storage:
        try:
            with _output(out) as fh:
                report = export_openmetrics(
                    storage, fh, matchers, start_ms, end_ms, window_ms=window_ms
                )
        except OpenManagerError as exc:
            raise fail(exc) from exc
    if str(out) != "-":
        console.print(
            f"exported {report.samples:,} samples of {report.series:,} series "
            f"({report.families} families, {report.bytes / 1e6:,.1f} MB) to {out} "
            f"in {report.seconds:.2f}s"
        )


@contextmanager
def _output(out: Path) -> Iterator[BinaryIO]:
    if str(out) == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    with out.open("wb") as fh:
        yield fh


@app.command("stats")
def stats(config: Path | None = ConfigOption) -> None:
    """Print what is stored: series, samples, bytes on disk and bytes/sample, per tier and head."""
    settings = settings_or_exit(config)
    with _storage(settings) as storage:
        try:
            st = storage.stats()
        except OpenManagerError as exc:
            raise fail(exc) from exc
    table = Table(title=f"storage {settings.storage.path} ({settings.storage.backend})")
    for col in ("part", "series", "samples", "bytes on disk", "bytes/sample"):
        table.add_column(col, justify="left" if col == "part" else "right")
    total = (st.series, st.samples, st.bytes_on_disk)
    table.add_row("total", *(f"{n:,}" for n in total), _per(st.bytes_on_disk, st.samples))
    table.add_row("head", f"{st.head_series:,}", f"{st.head_samples:,}", "", "")
    for t in st.tiers:
        sizes = (t.series, t.samples, t.bytes_on_disk)
        table.add_row(
            f"tier {t.name}", *(f"{n:,}" for n in sizes), _per(t.bytes_on_disk, t.samples)
        )
    console.print(table)
    for t in st.tiers:
        if t.min_time is not None and t.max_time is not None:
            console.print(f"tier {t.name}: {_iso(t.min_time)} .. {_iso(t.max_time)} UTC")


def _per(num: int, den: int) -> str:
    return f"{num / den:.3f}" if den else "-"


def _iso(ms: int | None) -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")
