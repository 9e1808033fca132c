"""Datadog's metrics intake, API v2: gzip'd JSON `{"series": [...]}` to `/api/v2/series`.

One series entry per (metric, labels) in the batch with its points (Unix seconds, value);
labels become `key:value` tags and the `server`/`instance`/`host` label the host resource.
Gauges are sent as type 3 (gauge), everything else as 0 (unspecified). NaN/infinity cannot be
sent (JSON) and are skipped.
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Sequence
from typing import Any

import httpx

from openmanager.config.exporters import ExporterSettings
from openmanager.export.base import Sample, post
from openmanager.export.registry import http_client
from openmanager.security.secrets import reveal

GAUGE = 3
UNSPECIFIED = 0
HOST_LABELS = ("host", "server", "instance")
MAX_COMPRESSED = 512_000
MAX_DECOMPRESSED = 5_242_880
"""The intake's documented payload limits (bytes); larger batches are split."""


def payload(batch: Sequence[Sample]) -> tuple[dict[str, Any], int]:
    """The v2 `MetricPayload` for a batch, and how many points it holds."""
    series: dict[tuple[str, tuple[tuple[str, str], ...]], dict[str, Any]] = {}
    count = 0
    for s in batch:
        if not math.isfinite(s.value):
            continue
        entry = series.get((s.name, s.labels))
        if entry is None:
            entry = series[(s.name, s.labels)] = _series(s)
        entry["points"].append({"timestamp": s.timestamp_ms // 1000, "value": float(s.value)})
        count += 1
    return {"series": list(series.values())}, count


def _series(s: Sample) -> dict[str, Any]:
    labels = dict(s.labels)
    entry: dict[str, Any] = {
        "metric": s.name,
        "type": GAUGE if s.type == "gauge" else UNSPECIFIED,
        "points": [],
        "tags": [f"{k}:{v}" for k, v in s.labels if v],
    }
    host = next((labels[k] for k in HOST_LABELS if labels.get(k)), None)
    if host is not None:
        entry["resources"] = [{"name": host, "type": "host"}]
    return entry


class DatadogExporter:
    """Posts batches to `{url}/api/v2/series` with the `DD-API-KEY` header."""

    kind = "datadog"

    def __init__(self, settings: ExporterSettings, client: httpx.Client | None = None) -> None:
        self.url = settings.url.rstrip("/") + "/api/v2/series"
        self.api_key = reveal(settings.api_key)
        self.client = http_client(settings, client)

    def send(self, batch: Sequence[Sample]) -> int:
        body, count = payload(batch)
        if count == 0:
            return 0
        raw = json.dumps(body, separators=(",", ":")).encode()
        data = gzip.compress(raw)
        if (len(data) > MAX_COMPRESSED or len(raw) > MAX_DECOMPRESSED) and len(batch) > 1:
            half = len(batch) // 2  # over the intake's limits: send in two halves
            return self.send(batch[:half]) + self.send(batch[half:])
        headers = {
            "DD-API-KEY": self.api_key,
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        }
        post(self.client, self.url, "datadog series", content=data, headers=headers)
        return count

    def close(self) -> None:
        self.client.close()
