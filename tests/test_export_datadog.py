"""Datadog exporter against a local intake that checks each payload with the v2 series schema."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import jsonschema

from openmanager.config.exporters import ExporterSettings
from openmanager.export.datadog import DatadogExporter
from openmanager.export.runner import ExportRunner
from tests.export_data import EXPECTED_ALL, EXPECTED_FINITE, POINTS, T0, filled_storage
from tests.export_http import Request, receiver

# `POST /api/v2/series` request body as documented (docs.datadoghq.com/api/latest/metrics,
# MetricPayload / MetricSeries / MetricPoint / MetricResource / MetricIntakeType); stricter than
# the intake in refusing unknown keys, so a misspelt field fails here.
SERIES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["series"],
    "additionalProperties": False,
    "properties": {
        "series": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["metric", "points"],
                "additionalProperties": False,
                "properties": {
                    "interval": {"type": "integer"},
                    "metadata": {"type": "object"},
                    "metric": {"type": "string", "minLength": 1},
                    "points": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "timestamp": {"type": "integer"},
                                "value": {"type": "number"},
                            },
                        },
                    },
                    "resources": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["name", "type"],
                            "additionalProperties": False,
                            "properties": {"name": {"type": "string"}, "type": {"type": "string"}},
                        },
                    },
                    "source_type_name": {"type": "string"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "type": {"enum": [0, 1, 2, 3, 15]},
                    "unit": {"type": "string"},
                },
            },
        }
    },
}


def test_payloads_match_the_v2_schema_and_carry_every_point(tmp_path: Path) -> None:
    payloads: list[dict[str, Any]] = []
    failures = [1]  # the intake answers 503 once: the batch is retried, not lost

    def intake(req: Request) -> tuple[int, bytes]:
        assert req.path == "/api/v2/series"
        if req.headers.get("dd-api-key") != "k123":
            return 403, b'{"errors": ["Forbidden"]}'
        if failures[0]:
            failures[0] -= 1
            return 503, b"busy"
        assert req.headers["content-encoding"] == "gzip"
        body = json.loads(gzip.decompress(req.body))
        try:
            jsonschema.validate(body, SERIES_SCHEMA)
        except jsonschema.ValidationError as exc:
            return 400, json.dumps({"errors": [exc.message]}).encode()
        payloads.append(body)
        return 202, b'{"errors": []}'

    st = filled_storage(tmp_path / "data")
    with receiver(intake) as (url, _):
        cfg = ExporterSettings(
            name="dd", kind="datadog", url=url, api_key="k123", batch_size=30, retry_backoff="1ms"
        )
        runner = ExportRunner(cfg, st, DatadogExporter(cfg), clock=lambda: T0 / 1000 + 3600)
        assert runner.export_range(T0, T0 + 3_600_000) == EXPECTED_FINITE
    assert runner.status.retries == 1 and runner.status.dead_letter_batches == 0
    assert runner.status.skipped_samples == EXPECTED_ALL - EXPECTED_FINITE
    series = [s for p in payloads for s in p["series"]]
    assert sum(len(s["points"]) for s in series) == EXPECTED_FINITE
    cpu = [s for s in series if s["metric"] == "node_cpu_ratio" and "server:web-01" in s["tags"]]
    assert cpu[0]["type"] == 3 and cpu[0]["resources"] == [{"name": "web-01", "type": "host"}]
    assert "mode:a=b" in cpu[0]["tags"]
    points = sorted((p["timestamp"], p["value"]) for s in cpu for p in s["points"])
    assert points[0] == (T0 // 1000, 0.0) and len(points) == POINTS
    counter = [s for s in series if s["metric"] == "node_requests_total"]
    assert {s["type"] for s in counter} == {0}
    st.close()


def test_rejected_payload_is_dead_lettered_without_retry(tmp_path: Path) -> None:
    st = filled_storage(tmp_path / "data")
    with receiver(lambda req: (403, b'{"errors": ["Forbidden"]}')) as (url, received):
        cfg = ExporterSettings(
            name="dd-bad-key", kind="datadog", url=url, api_key="wrong", batch_size=1000
        )
        runner = ExportRunner(cfg, st, DatadogExporter(cfg), clock=lambda: T0 / 1000 + 3600)
        assert runner.export_range(T0, T0 + 3_600_000) == 0
    assert len(received) == 1
    assert runner.status.dead_letter_samples == EXPECTED_ALL
    assert "HTTP 403" in (runner.status.last_error or "")
    st.close()
