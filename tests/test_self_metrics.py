"""The app watching itself: /metrics covers ingest, WAL fsync, queries, rules, HTTP, streams
and memory; every response carries a request id; `server.log_format=json` logs JSON lines."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.cluster import Start
from tests.serve_process import serve_process

RULES = """
groups:
  - name: selfwatch
    interval: 1s
    rules:
      - record: job:up:sum
        expr: sum(up)
"""


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition by (name, sorted labels)."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_cover_ingest_wal_queries_rules_http_streams_memory(
    start_instance: Start, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES)
    client = start_instance(
        simulator={"enabled": True, "interval": "1s", "servers": 3, "backfill": "2m"},
        storage={"wal_fsync": True},
        rules={"files": [str(rules)]},
    )
    before = client.get("/metrics")  # counters are process-wide: compare before and after
    assert client.get("/api/v1/query", params={"query": "sum(up)"}).status_code == 200
    assert client.get("/api/v1/fleet").status_code == 200
    with client.websocket_connect("/api/v1/stream?channel=system-status") as ws:
        ws.receive_json()
        during = client.get("/metrics").text
        assert value(during, "openmanager_stream_clients", transport="websocket") >= 1
    time.sleep(2.2)  # a simulator tick (WAL fsync) and a rule evaluation happen meanwhile
    after = client.get("/metrics").text
    b = before.text
    assert value(after, "openmanager_samples_ingested_total") > value(
        b, "openmanager_samples_ingested_total"
    )
    assert value(after, "openmanager_wal_fsync_duration_seconds_count") > value(
        b, "openmanager_wal_fsync_duration_seconds_count"
    )
    assert value(after, "openmanager_query_duration_seconds_count", kind="instant") > value(
        b, "openmanager_query_duration_seconds_count", kind="instant"
    )
    assert value(after, "openmanager_rule_group_duration_seconds_count", group="selfwatch") > 0
    http = dict(route="/api/v1/query", method="GET", code="200")
    assert value(after, "openmanager_http_request_duration_seconds_count", **http) > value(
        b, "openmanager_http_request_duration_seconds_count", **http
    )
    assert value(after, "process_resident_memory_bytes") > 10_000_000
    assert value(after, "openmanager_event_loop_lag_seconds_count") > value(
        b, "openmanager_event_loop_lag_seconds_count"
    )


def test_request_id_is_echoed_or_made_up(start_instance: Start) -> None:
    client = start_instance()
    assert (
        client.get("/-/healthy", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"]
        == "abc-123"
    )
    made = client.get("/-/healthy").headers["x-request-id"]
    assert len(made) == 32 and made != client.get("/-/healthy").headers["x-request-id"]
    too_long = "x" * 500
    assert (
        client.get("/-/healthy", headers={"X-Request-ID": too_long}).headers["x-request-id"]
        != too_long
    )


@pytest.mark.slow
def test_json_logs_carry_request_ids(tmp_path: Path) -> None:
    with serve_process(
        tmp_path / "data", "--no-simulator", env={"OPENMANAGER_SERVER__LOG_FORMAT": "json",
                                                  "OPENMANAGER_SERVER__LOG_LEVEL": "info"}
    ) as (url, proc):  # fmt: skip
        httpx.get(
            f"{url}/api/v1/query", params={"query": "up"}, headers={"X-Request-ID": "trace-42"}
        )
    assert proc.stdout is not None
    lines = [line for line in proc.stdout.read().splitlines() if line.startswith("{")]
    records = [json.loads(line) for line in lines]
    assert records, "no JSON log lines"
    assert all({"time", "level", "logger", "message"} <= r.keys() for r in records)
    assert not any("color_message" in r for r in records)
    (access,) = [r for r in records if r.get("request_id") == "trace-42"]
    assert access["logger"] == "uvicorn.access" and "/api/v1/query" in access["message"]
