"""OTLP/HTTP exporter: the requests a collector receives, decoded with the opentelemetry-proto messages."""

from __future__ import annotations

import math
from pathlib import Path

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality

from openmanager.config.exporters import ExporterSettings
from openmanager.export.otlp import OTLPExporter
from openmanager.export.runner import ExportRunner
from tests.export_data import EXPECTED_ALL, POINTS, SERVERS, T0, filled_storage
from tests.export_http import Request, receiver


def test_collector_decodes_every_point(tmp_path: Path) -> None:
    requests: list[ExportMetricsServiceRequest] = []

    def collector(req: Request) -> tuple[int, bytes]:
        assert req.path == "/v1/metrics"
        assert req.headers["content-type"] == "application/x-protobuf"
        assert req.headers["authorization"] == "Bearer t"
        msg = ExportMetricsServiceRequest()
        msg.ParseFromString(req.body)
        requests.append(msg)
        return 200, ExportMetricsServiceResponse().SerializeToString()

    st = filled_storage(tmp_path / "data")
    with receiver(collector) as (url, _):
        cfg = ExporterSettings(
            name="otlp", kind="otlp", url=url, batch_size=50, headers={"Authorization": "Bearer t"}
        )
        runner = ExportRunner(cfg, st, OTLPExporter(cfg), clock=lambda: T0 / 1000 + 3600)
        assert runner.export_range(T0, T0 + 3_600_000) == EXPECTED_ALL
    assert len(requests) == 2  # 81 samples in batches of 50
    points: dict[str, list[tuple[dict[str, str], int, float]]] = {}
    kinds: dict[str, str] = {}
    for msg in requests:
        (rm,) = msg.resource_metrics
        assert {a.key: a.value.string_value for a in rm.resource.attributes} == {
            "service.name": "openmanager"
        }
        for metric in rm.scope_metrics[0].metrics:
            data = metric.WhichOneof("data")
            kinds[metric.name] = str(data)
            dps = metric.sum.data_points if data == "sum" else metric.gauge.data_points
            if data == "sum":
                assert metric.sum.is_monotonic
                assert (
                    metric.sum.aggregation_temporality
                    == AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
                )
            for dp in dps:
                attrs = {a.key: a.value.string_value for a in dp.attributes}
                points.setdefault(metric.name, []).append((attrs, dp.time_unix_nano, dp.as_double))
    assert kinds == {"node_cpu_ratio": "gauge", "node_requests_total": "sum", "node_load1": "gauge"}
    cpu = points["node_cpu_ratio"]
    assert {a["server"] for a, _, _ in cpu} == set(SERVERS) and len(cpu) == 2 * POINTS
    first = min(cpu, key=lambda p: (p[0]["server"] != "web-01", p[1]))
    assert first == ({"mode": "a=b", "server": "web-01"}, T0 * 1_000_000, 0.0)
    assert sorted(v for _, _, v in points["node_requests_total"]) == [
        i * 10.0 for i in range(POINTS)
    ]
    assert sum(math.isnan(v) for _, _, v in points["node_load1"]) == 1  # OTLP carries NaN
    st.close()


def test_partial_success_counts_rejected_points(tmp_path: Path) -> None:
    def collector(req: Request) -> tuple[int, bytes]:
        answer = ExportMetricsServiceResponse()
        answer.partial_success.rejected_data_points = 3
        return 200, answer.SerializeToString()

    st = filled_storage(tmp_path / "data")
    with receiver(collector) as (url, _):
        cfg = ExporterSettings(
            name="otlp-partial", kind="otlp", url=url + "/v1/metrics", batch_size=1000
        )
        runner = ExportRunner(cfg, st, OTLPExporter(cfg), clock=lambda: T0 / 1000 + 3600)
        assert runner.export_range(T0, T0 + 3_600_000) == EXPECTED_ALL - 3
    assert runner.status.skipped_samples == 3
    st.close()
