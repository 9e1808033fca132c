"""Exporters by kind: one typed table, each module imported only when a target uses it."""

from __future__ import annotations

import importlib
from collections.abc import Callable

import httpx

from openmanager.config.exporters import ExporterSettings
from openmanager.errors import InvalidInput
from openmanager.export.base import Exporter

ExporterFactory = Callable[[ExporterSettings, httpx.Client | None], Exporter]

EXPORTERS: dict[str, str] = {
    "influxdb": "openmanager.export.influxdb:InfluxDBExporter",
    "datadog": "openmanager.export.datadog:DatadogExporter",
    "otlp": "openmanager.export.otlp:OTLPExporter",
    "clickhouse": "openmanager.export.clickhouse:ClickHouseExporter",
}
"""kind -> "module:class"; the class is built as `cls(settings, client)`."""


def create_exporter(settings: ExporterSettings, client: httpx.Client | None = None) -> Exporter:
    """The exporter for `settings.kind`; `client` lets tests inject a transport."""
    target = EXPORTERS.get(settings.kind)
    if target is None:
        raise InvalidInput(
            f"unknown exporter kind {settings.kind!r}; known: {', '.join(EXPORTERS)}"
        )
    module_name, _, class_name = target.partition(":")
    factory: ExporterFactory = getattr(importlib.import_module(module_name), class_name)
    return factory(settings, client)


def http_client(settings: ExporterSettings, client: httpx.Client | None) -> httpx.Client:
    """The given client, or a new one with the target's timeout and extra headers."""
    if client is not None:
        return client
    from openmanager.units import parse_duration

    timeout = parse_duration(settings.timeout) / 1000
    return httpx.Client(timeout=timeout, headers=settings.headers)
