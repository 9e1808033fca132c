"""`openmanager ask "why is db-primary-01 slow?"`: the assistant's answer with its sources."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import typer

from openmanager.api.params import parse_time
from openmanager.cli.api_client import api_data
from openmanager.cli.common import ConfigOption, console, fail, settings_or_exit
from openmanager.errors import OpenManagerError
from openmanager.knowledge.base import KnowledgeBase
from openmanager.services.assistant import AssistantService, interaction_store
from openmanager.services.platform import open_meta_store
from openmanager.services.query import QueryService
from openmanager.tsdb.factory import open_storage


def ask(
    question: str = typer.Argument(
        ..., help='The question, e.g. "why is db-primary-01 slow?" (English or Korean).'
    ),
    url: str | None = typer.Option(
        None, help="Ask a running OpenManager (alerts, anomalies and incidents included)."
    ),
    at: str | None = typer.Option(
        None, "--time", help="Ask about this moment (unix seconds or RFC 3339); default now."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print the answer with its evidence as JSON."
    ),
    config: Path | None = ConfigOption,
) -> None:
    """Answer an operator question from evidence: figures with their PromQL, alerts, runbooks.

    Without --url it reads the local store (figures and runbooks only; alerts, anomalies and
    incidents live in the running server). Narration is the built-in template unless
    `assistant.llm` is configured.
    """
    try:
        data = _remote(url, question, at) if url else _local(config, question, at)
    except OpenManagerError as exc:
        raise fail(exc) from exc
    if as_json:
        typer.echo(json.dumps(data, indent=1, ensure_ascii=False))
        return
    console.print(data["answer"], highlight=False, markup=False, soft_wrap=True)
    console.print(
        f"\n({data['narrator']} narrator, {data['latency_ms']:.0f} ms, interaction {data['id']})",
        style="dim", highlight=False, markup=False,
    )  # fmt: skip


def _local(config: Path | None, question: str, at: str | None) -> dict[str, Any]:
    settings = settings_or_exit(config)
    storage = open_storage(settings.storage)
    meta = open_meta_store(settings)
    store = interaction_store(settings.assistant, meta)
    try:
        svc = AssistantService(
            settings.assistant, QueryService(storage), KnowledgeBase(settings.knowledge), store
        )
        return svc.ask(question, parse_time(at, "time") if at is not None else None)
    finally:
        store.close()
        meta.close()
        storage.close()


def _remote(url: str, question: str, at: str | None) -> dict[str, Any]:
    body = {"question": question, "time": at}
    return api_data(
        url, lambda base: httpx.post(base + "/api/v1/assistant/ask", json=body, timeout=300)
    )
