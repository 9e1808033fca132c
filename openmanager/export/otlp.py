"""OpenTelemetry OTLP/HTTP metrics: an `ExportMetricsServiceRequest` protobuf POSTed to `/v1/metrics`.

One resource (`service.name` = openmanager) and scope; one metric per name, counters as
cumulative monotonic sums and everything else as gauges; every label is a data-point
attribute, the value a double (NaN and infinity are carried as they are).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import httpx
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    AggregationTemporality,
    Metric,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from openmanager import __version__
from openmanager.config.exporters import ExporterSettings
from openmanager.export.base import Sample, post
from openmanager.export.registry import http_client

log = logging.getLogger(__name__)

SERVICE_NAME = "openmanager"


def request(batch: Sequence[Sample]) -> ExportMetricsServiceRequest:
    """The batch as one OTLP export request."""
    scope = ScopeMetrics(scope=InstrumentationScope(name="openmanager", version=__version__))
    metrics: dict[str, Metric] = {}
    attributes: dict[tuple[tuple[str, str], ...], bytes] = {}  # encoded once per series
    for s in batch:
        metric = metrics.get(s.name)
        if metric is None:
            metric = metrics[s.name] = scope.metrics.add(name=s.name)
            if s.type == "counter":
                metric.sum.is_monotonic = True
                metric.sum.aggregation_temporality = (
                    AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
                )
            else:
                metric.gauge.SetInParent()
        points = metric.sum.data_points if s.type == "counter" else metric.gauge.data_points
        attrs = attributes.get(s.labels)
        if attrs is None:
            kvs = [KeyValue(key=k, value=AnyValue(string_value=v)) for k, v in s.labels]
            attrs = attributes[s.labels] = NumberDataPoint(attributes=kvs).SerializeToString()
        point = points.add(time_unix_nano=s.timestamp_ms * 1_000_000, as_double=s.value)
        point.MergeFromString(attrs)  # 3x faster than copying the KeyValue messages in
    resource = Resource(
        attributes=[KeyValue(key="service.name", value=AnyValue(string_value=SERVICE_NAME))]
    )
    return ExportMetricsServiceRequest(
        resource_metrics=[ResourceMetrics(resource=resource, scope_metrics=[scope])]
    )


class OTLPExporter:
    """Posts protobuf-encoded batches to an OTLP/HTTP receiver (e.g. an OpenTelemetry Collector)."""

    kind = "otlp"

    def __init__(self, settings: ExporterSettings, client: httpx.Client | None = None) -> None:
        url = settings.url.rstrip("/")
        self.url = url if url.endswith("/v1/metrics") else url + "/v1/metrics"
        self.client = http_client(settings, client)

    def send(self, batch: Sequence[Sample]) -> int:
        if not batch:
            return 0
        body = request(batch).SerializeToString()
        headers = {"Content-Type": "application/x-protobuf"}
        response = post(self.client, self.url, "otlp metrics", content=body, headers=headers)
        rejected = _rejected(response.content)
        if rejected:
            log.warning("otlp receiver rejected %d of %d data points", rejected, len(batch))
        return len(batch) - rejected

    def close(self) -> None:
        self.client.close()


def _rejected(body: bytes) -> int:
    """Data points the receiver's partial-success answer says it rejected (0 if none or unparsable)."""
    answer = ExportMetricsServiceResponse()
    try:
        answer.ParseFromString(body)
    except Exception:  # a receiver answering JSON or nothing: no partial success to read
        return 0
    return int(answer.partial_success.rejected_data_points)
