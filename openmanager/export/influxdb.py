"""InfluxDB line protocol: `metric,label=value value=1.5 <ms>` to `/write?db=...&precision=ms`.

The metric name is the measurement, labels are tags, the sample is the float field `value`.
InfluxDB has no NaN or infinity, so such samples are skipped. `/write` is InfluxDB 1.x's API
and InfluxDB 2's v1-compatibility endpoint; the database is created on first use (1.x).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence

import httpx

from openmanager.config.exporters import ExporterSettings
from openmanager.export.base import ExportFailed, Sample, post
from openmanager.export.registry import http_client

log = logging.getLogger(__name__)

_MEASUREMENT = re.compile(r"([, ])")
_KEY = re.compile(r"([,= ])")


def escape_measurement(name: str) -> str:
    """A measurement name with commas and spaces escaped (backslashes stay as they are)."""
    return _MEASUREMENT.sub(r"\\\1", name)


def escape_key(text: str) -> str:
    """A tag key or value with commas, equals signs and spaces escaped; newlines cannot be sent."""
    return _KEY.sub(r"\\\1", text.replace("\n", " "))


def line(sample: Sample) -> str | None:
    """One sample as a line-protocol line (ms timestamp), or None for NaN/infinite values."""
    if not math.isfinite(sample.value):
        return None
    return f"{series_key(sample)} value={float(sample.value)!r} {sample.timestamp_ms}"


def series_key(sample: Sample) -> str:
    """Measurement and tags of a sample's series: `metric,label=value,...`."""
    tags = "".join(f",{escape_key(k)}={escape_key(v)}" for k, v in sample.labels if v)
    return escape_measurement(sample.name) + tags


def encode(batch: Sequence[Sample]) -> tuple[bytes, int]:
    """The batch as a line-protocol body, and how many samples it holds."""
    keys: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}  # each series escaped once
    lines = []
    for s in batch:
        if not math.isfinite(s.value):
            continue
        key = keys.get((s.name, s.labels))
        if key is None:
            key = keys[(s.name, s.labels)] = series_key(s)
        lines.append(f"{key} value={float(s.value)!r} {s.timestamp_ms}")
    return ("\n".join(lines) + "\n").encode(), len(lines)


class InfluxDBExporter:
    """Writes batches to an InfluxDB `/write` endpoint."""

    kind = "influxdb"

    def __init__(self, settings: ExporterSettings, client: httpx.Client | None = None) -> None:
        self.settings = settings
        self.base = settings.url.rstrip("/")
        self.client = http_client(settings, client)
        self._database_ready = False

    def send(self, batch: Sequence[Sample]) -> int:
        body, count = encode(batch)
        if count == 0:
            return 0
        self._ensure_database()
        params = {"db": self.settings.database, "precision": "ms"}
        post(self.client, f"{self.base}/write", "influxdb write", content=body, params=params)
        return count

    def close(self) -> None:
        self.client.close()

    def _ensure_database(self) -> None:
        if self._database_ready:
            return
        name = self.settings.database.replace("\\", "\\\\").replace('"', '\\"')
        try:
            response = self.client.post(
                f"{self.base}/query", data={"q": f'CREATE DATABASE "{name}"'}
            )
        except httpx.TransportError as exc:
            raise ExportFailed(f"influxdb create database: {type(exc).__name__}: {exc}") from exc
        if not response.is_success:  # e.g. InfluxDB 2, where buckets are made by an admin
            log.warning("influxdb: CREATE DATABASE answered %s", response.status_code)
        self._database_ready = True
