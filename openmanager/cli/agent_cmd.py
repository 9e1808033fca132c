"""`openmanager agent`: collect this host (node_exporter names) into the local store or push it."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import typer

from openmanager.cli.common import ConfigOption, console, settings_or_exit
from openmanager.errors import OpenManagerError
from openmanager.services.agent import Agent, LocalSink, RemoteWriteSink, Sink
from openmanager.tsdb.factory import open_storage
from openmanager.units import parse_duration


def agent(
    config: Path | None = ConfigOption,
    interval: str | None = typer.Option(None, help="Collection interval, e.g. 15s."),
    remote_write: str | None = typer.Option(
        None, "--remote-write", help="Push by remote-write to this URL instead of storing."
    ),
    data: Path | None = typer.Option(None, "--data", help="Local store directory."),
    instance: str | None = typer.Option(None, help="The `instance` label (default: host name)."),
    count: int = typer.Option(0, help="Stop after this many collections (0 = run until Ctrl-C)."),
) -> None:
    """Collect the local host's metrics every interval, store them or push them by remote-write."""
    overrides: dict[str, dict[str, object]] = {"agent": {}, "storage": {}}
    if interval is not None:
        overrides["agent"]["interval"] = interval
    if remote_write is not None:
        overrides["agent"]["remote_write_url"] = remote_write
    if instance is not None:
        overrides["agent"]["instance"] = instance
    if data is not None:
        overrides["storage"]["path"] = str(data)
    settings = settings_or_exit(config, overrides)
    logging.basicConfig(level=settings.server.log_level.upper())
    url = settings.agent.remote_write_url
    storage = None
    if url:
        sink: Sink = RemoteWriteSink(url)
    else:
        storage = open_storage(settings.storage)
        sink = LocalSink(storage)
    step = parse_duration(settings.agent.interval) / 1000
    runner = Agent(settings.agent, sink)
    console.print(f"agent: every {step:g}s into {url or settings.storage.path}")
    done = 0
    try:
        while True:
            started = time.monotonic()
            try:
                runner.tick()
            except OpenManagerError as exc:
                console.print(f"[red]agent: {exc.message}[/red]")
            else:
                console.print(f"agent: {runner.last_samples} samples", highlight=False)
            done += 1
            if count and done >= count:
                break
            time.sleep(max(0.0, step - (time.monotonic() - started)))
    except KeyboardInterrupt:
        pass
    finally:
        if isinstance(sink, RemoteWriteSink):
            sink.close()
        if storage is not None:
            storage.close()
