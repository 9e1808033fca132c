"""`openmanager detect FILE.csv`: anomaly score of every row of NAB-style CSVs, without look-ahead."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from openmanager.analytics.csvio import read_series, write_scored, write_scored_to
from openmanager.analytics.detect.registry import names
from openmanager.analytics.detect.replay import replay
from openmanager.cli.common import err_console, fail
from openmanager.errors import InvalidInput, OpenManagerError


def detect(
    path: Path = typer.Argument(
        ..., exists=True, help="A timestamp,value CSV, or a directory of them."
    ),
    detector: str = typer.Option(
        "adaptive", "--detector", "-d", help="Detector name: " + ", ".join(names())
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        help="Output directory (mirrors the input tree); default: stdout for one file.",
    ),
    settings: str | None = typer.Option(
        None, "--settings", help="Detector settings as a JSON object."
    ),
) -> None:
    """Write the same rows with an anomaly_score column in [0, 1], each row scored from earlier rows only."""
    try:
        files = _inputs(path)
        if out is None and (path.is_dir() or len(files) != 1):
            raise InvalidInput("give --out DIR when scoring a directory")
        series = [read_series(f) for f in files]
        cfg = json.loads(settings) if settings else None
        total = sum(len(s.values) for s in series)
        with Progress(
            TextColumn("scoring"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err_console,
            transient=out is None,
        ) as bar:
            task = bar.add_task("rows", total=total)
            scores = replay(
                [s.values for s in series],
                [s.timestamps for s in series],
                detector,
                cfg,
                progress=lambda k: bar.advance(task, k),
            )
        if out is None:
            write_scored_to(sys.stdout, series[0], scores[0])
            return
        base = path if path.is_dir() else path.parent
        for f, s, sc in zip(files, series, scores, strict=True):
            write_scored(out / f.relative_to(base), s, sc)
        err_console.print(f"{len(files)} file(s), {total} rows scored with {detector} -> {out}")
    except json.JSONDecodeError as exc:
        raise fail(InvalidInput(f"--settings is not JSON: {exc}")) from exc
    except OpenManagerError as exc:
        raise fail(exc) from exc


def _inputs(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    files = sorted(p for p in path.rglob("*.csv") if p.is_file())
    if not files:
        raise InvalidInput(f"no .csv files under {path}")
    return files
