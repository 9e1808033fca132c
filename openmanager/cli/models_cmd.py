"""`openmanager models list|train|promote|rollback`: the versioned analytics model registry."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from openmanager.analytics.models import FORECASTER
from openmanager.api.params import parse_step, parse_time
from openmanager.cli.common import ConfigOption, console, fail, settings_or_exit
from openmanager.errors import InvalidInput, OpenManagerError
from openmanager.services.models import ModelService, Truth
from openmanager.services.platform import open_meta_store
from openmanager.services.query import QueryService
from openmanager.simulate.faults import GroundTruth
from openmanager.tsdb.factory import open_storage
from openmanager.units import parse_duration

app = typer.Typer(
    help="Versioned forecaster and anomaly-detector models: train (validated on held-out history "
    "or labelled faults), promote, roll back.",
    no_args_is_help=True,
)


@contextmanager
def model_service(
    config: Path | None, with_store: bool = False, truth: Path | None = None
) -> Iterator[ModelService]:
    """The registry of the configured metadata store (and the local TSDB when training; faults
    from a ground-truth JSON file for detectors)."""
    settings = settings_or_exit(config)
    try:
        labels = _truth(truth) if truth is not None else None
        meta = open_meta_store(settings)
    except OpenManagerError as exc:
        raise fail(exc) from exc
    storage = open_storage(settings.storage) if with_store else None
    try:
        yield ModelService(
            meta, QueryService(storage) if storage is not None else None,
            window_ms=parse_duration(settings.models.window),
            auto_promote=settings.models.auto_promote, truth=labels,
        )  # fmt: skip
    except OpenManagerError as exc:
        raise fail(exc) from exc
    finally:
        if storage is not None:
            storage.close()
        meta.close()


def _truth(path: Path) -> Truth:
    """Faults of a ground-truth JSON (`openmanager simulate` history) under way in a window."""
    try:
        gt = GroundTruth.from_json(path.read_text())
    except (OSError, ValueError, KeyError) as exc:
        raise InvalidInput(f"cannot read ground truth {path}: {exc}") from exc
    return lambda start, end: [f for f in gt.faults if f.start_ms <= end and f.end_ms > start]


def _print(rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(rows, indent=1))
        return
    table = Table(title="models")
    for col in ("name", "version", "kind", "stage", "model", "validation", "trained on"):
        table.add_column(col)
    for r in rows:
        m, p = r["metrics"], r["params"]
        win = p.get("training_window", {})
        if r["kind"] == FORECASTER:
            model = str(p.get("model", "-"))
            score = f"MASE {m.get('mase', '-')}, coverage {m.get('coverage', '-')}"
        else:
            model = f"{p.get('detector')} >= {p.get('threshold')}"
            score = f"F1 {m.get('f1')} (P {m.get('precision')}, R {m.get('recall')})"
        table.add_row(
            r["name"], str(r["version"]), r["kind"], r["stage"], model, score,
            f"{p.get('expr', '')} ({(win.get('end', 0) - win.get('start', 0)) / 3600:.0f} h)",
        )  # fmt: skip
    console.print(table)


@app.command("list")
def list_cmd(
    name: str | None = typer.Argument(None, help="Only this model's versions."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    config: Path | None = ConfigOption,
) -> None:
    """Every version with its stage (production, candidate, archived, ...) and validation scores."""
    with model_service(config) as svc:
        _print(svc.versions(name), as_json)


@app.command("train")
def train(
    name: str = typer.Argument(
        ..., help="Model name, e.g. web-cpu; a detector model's name is the anomaly check it runs."
    ),
    kind: str = typer.Option(FORECASTER, help="forecaster or detector."),
    expr: str | None = typer.Option(
        None,
        help="PromQL to forecast (one series) or to watch (detector); default: the model's own "
        "(or the anomaly check's).",
    ),
    detector: str | None = typer.Option(
        None, help="Detector of a detector model; default: the check's (server_ensemble)."
    ),
    truth: Path | None = typer.Option(
        None, help="Ground-truth JSON (simulator history) whose faults validate a detector."
    ),
    horizon: str = typer.Option("1h", help="Forecast horizon the model is validated at."),
    season: str = typer.Option("auto", help="auto, none, daily or weekly."),
    window: str | None = typer.Option(None, help="Training window; default models.window."),
    step: str | None = typer.Option(
        None, help="Resolution of the training series; default 5m (forecasters), 1m (detectors)."
    ),
    at: str | None = typer.Option(None, "--time", help="Window ends at this time; default now."),
    promote: bool | None = typer.Option(
        None,
        "--promote/--no-promote",
        help="Promote if it beats production; default models.auto_promote.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    config: Path | None = ConfigOption,
) -> None:
    """Train a new version: a forecaster is validated on the last `horizon` of the window, a
    detector (settings and threshold tuned on the middle third) on the faults of the last third."""
    with model_service(config, with_store=True, truth=truth) as svc:
        spec = svc.spec_for(
            name, kind, expr=expr, horizon_ms=parse_step(horizon, "horizon"), season=season,
            detector=detector,
        )  # fmt: skip
        row = svc.train(
            name, spec,
            window_ms=parse_step(window, "window") if window else None,
            step_ms=parse_step(step) if step else None,
            at_ms=parse_time(at, "time") if at else None,
            auto_promote=promote,
        )  # fmt: skip
        _print([row], as_json)


@app.command("promote")
def promote_cmd(
    name: str = typer.Argument(...),
    version: int = typer.Argument(..., help="Version to put in production."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    config: Path | None = ConfigOption,
) -> None:
    """Put a version in production by hand (the one there is archived)."""
    with model_service(config) as svc:
        _print([svc.promote(name, version)], as_json)


@app.command("rollback")
def rollback_cmd(
    name: str = typer.Argument(...),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    config: Path | None = ConfigOption,
) -> None:
    """Restore the version that was in production before the current one."""
    with model_service(config) as svc:
        _print([svc.rollback(name)], as_json)
