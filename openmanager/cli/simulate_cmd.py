"""`openmanager simulate`: write simulated fleet history (OpenMetrics) and its ground truth."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from openmanager.cli.common import ConfigOption, console, fail, settings_or_exit
from openmanager.errors import InvalidInput, OpenManagerError
from openmanager.logs.store import LogStore
from openmanager.simulate import Simulator
from openmanager.simulate.history import HistoryResult, write_history
from openmanager.simulate.logs import LogSimulator
from openmanager.simulate.logs_history import write_logs
from openmanager.simulate.scenarios import get_scenario
from openmanager.units import parse_duration


def parse_time(text: str) -> int:
    """Milliseconds of an RFC 3339 time (UTC if no zone) or a Unix time in s or ms."""
    s = text.strip()
    try:
        num = float(s)
    except ValueError:
        pass
    else:
        return int(num) if num > 1e11 else int(num * 1000)
    try:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"invalid time {text!r}: use RFC 3339 (2024-01-01T00:00:00Z) or Unix seconds"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def parse_trigger(text: str, start_ms: int, duration_ms: int) -> tuple[str, str | None, int]:
    """`SCENARIO[:SERVER][:+OFFSET]` -> (scenario, server, time); offset defaults to mid-range."""
    parts = text.split(":")
    scenario = get_scenario(parts[0]).name
    server, offset = None, duration_ms // 2
    for part in parts[1:]:
        if part.startswith("+"):
            offset = parse_duration(part[1:])
        elif part:
            server = part
    if offset >= duration_ms:
        raise InvalidInput(f"trigger offset in {text!r} is past the end of the simulated range")
    return scenario, server, start_ms + offset


def simulate(
    out: Path = typer.Option(
        ..., "--out", "-o", help="Directory for fleet.om and ground_truth.json."
    ),
    days: float | None = typer.Option(
        None, "--days", help="Days of history (overrides --duration)."
    ),
    duration: str = typer.Option("1d", "--duration", help="History length, e.g. 6h, 7d."),
    seed: int | None = typer.Option(None, "--seed", help="Random seed (default: simulator.seed)."),
    servers: int | None = typer.Option(
        None, "--servers", help="Fleet size (default: simulator.servers)."
    ),
    start: str | None = typer.Option(
        None, "--start", help="Start time (default: now minus the duration)."
    ),
    interval: str | None = typer.Option(
        None, "--interval", help="Sample step (default: simulator.interval)."
    ),
    trigger: list[str] = typer.Option(
        [],
        "--trigger",
        help="Inject SCENARIO[:SERVER][:+OFFSET] (repeatable), e.g. disk_full:db-primary-01:+2h.",
    ),
    with_logs: bool = typer.Option(
        True,
        "--logs/--no-logs",
        help="Also write the fleet's log lines into OUT/logs (a log store).",
    ),
    no_faults: bool = typer.Option(
        False, "--no-faults", help="No scheduled faults (triggers still apply)."
    ),
    config: Path | None = ConfigOption,
) -> None:
    """Simulate the fleet over a time range faster than real time and write it for backfill."""
    overrides: dict[str, object] = {}
    for key, value in (("seed", seed), ("servers", servers), ("interval", interval)):
        if value is not None:
            overrides[key] = value
    if no_faults:
        overrides["faults"] = False
    settings = settings_or_exit(config, {"simulator": overrides} if overrides else None)
    sim_settings = settings.simulator
    try:
        length = int(days * 86_400_000) if days is not None else parse_duration(duration)
        step = parse_duration(sim_settings.interval)
        if length <= 0:
            raise InvalidInput("the simulated duration must be positive")
        if start is None:
            now = datetime.now(UTC).timestamp() * 1000
            end_ms = int(now) - int(now) % 60_000
            start_ms = end_ms - length
        else:
            start_ms = parse_time(start)
        end_ms = start_ms + length
        sim = Simulator(sim_settings, start_ms=start_ms)
        for spec in trigger:
            name, server, at = parse_trigger(spec, start_ms, length)
            sim.trigger(name, server, at)
        result = _run(sim, start_ms, end_ms, out, -(-length // step) * len(sim.series))
        log_lines = (
            _run_logs(sim, start_ms, end_ms, out / "logs", settings.logs.lines_per_minute)
            if with_logs
            else None
        )
    except OpenManagerError as exc:
        raise fail(exc) from exc
    table = Table(title="simulated fleet history", show_header=False)
    rows = [
        ("servers", f"{len(sim.fleet)}"),
        ("series", f"{result.series:,}"),
        ("samples", f"{result.samples:,}"),
        ("faults", f"{result.faults}"),
        ("range", f"{_iso(start_ms)} .. {_iso(end_ms)}"),
        ("OpenMetrics", f"{result.openmetrics} ({result.bytes / 1e6:,.1f} MB)"),
        ("ground truth", f"{result.ground_truth}"),
        *([("log lines", f"{log_lines:,} in {out / 'logs'}")] if log_lines is not None else []),
        ("seconds", f"{result.seconds:.1f} (generate {result.generate_seconds:.1f})"),
    ]
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)


_COLUMNS = (
    TextColumn("[bold]{task.description:<9}"),
    BarColumn(),
    TextColumn("{task.percentage:>5.1f}%"),
    TimeElapsedColumn(),
    TimeRemainingColumn(),
)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _run_logs(sim: Simulator, start_ms: int, end_ms: int, path: Path, rate: float) -> int:
    store = LogStore(path)
    try:
        with Progress(*_COLUMNS, console=console, transient=False) as bar:
            task = bar.add_task("logs", total=end_ms - start_ms)
            return write_logs(LogSimulator.of(sim, rate), store, start_ms, end_ms,
                              lambda ms, _n: bar.advance(task, ms))  # fmt: skip
    finally:
        store.close()


def _run(sim: Simulator, start_ms: int, end_ms: int, out: Path, samples: int) -> HistoryResult:
    with Progress(*_COLUMNS, console=console, transient=False) as bar:
        tasks = {
            "generate": bar.add_task("generate", total=max(samples, 1)),
            "write": bar.add_task("write", total=max(samples, 1)),
        }

        def progress(phase: str, done: int) -> None:
            bar.advance(tasks[phase], done)

        return write_history(sim, start_ms, end_ms, out, progress=progress)
