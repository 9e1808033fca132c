"""RemoteStorage without a network: request shapes, retries and error mapping (MockTransport)."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import numpy as np
import pytest

from openmanager.config.settings import StorageSettings
from openmanager.errors import ConfigError, InvalidInput, NotFound, Unavailable
from openmanager.ingest.remote_write import LabelCache, decode_write_request
from openmanager.samples import SampleBatch, SeriesMeta, make_labels
from openmanager.tsdb.matchers import Matcher, MatchType, eq
from openmanager.tsdb.remote import Flavor, RemoteStorage, selector_text

URL = "http://remote.test:8428"
Handler = Callable[[httpx.Request], httpx.Response]


def storage(handler: Handler, flavor: Flavor = "prometheus", **kw: int) -> RemoteStorage:
    return RemoteStorage(
        StorageSettings(backend="remote", remote_url=URL),
        transport=httpx.MockTransport(handler),
        flavor=flavor,
        retry_wait_s=0.0,
        **kw,
    )


def ok(data: object) -> httpx.Response:
    return httpx.Response(200, json={"status": "success", "data": data})


def sample_batch(n: int) -> SampleBatch:
    a, b = make_labels("cpu", {"host": "a"}), make_labels("cpu", {"host": "b"})
    ts = np.arange(n, dtype=np.int64) * 1000
    vs = ts.astype(np.float64)
    return SampleBatch.from_series(
        [(a, ts, vs * 0.5), (b, ts, -vs)], {"cpu": SeriesMeta("gauge", "CPU.", "")}
    )


def test_append_posts_remote_write_in_bounded_requests() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    result = storage(handler, max_samples_per_request=300).append(sample_batch(500))
    assert result.accepted == 1000
    assert len(seen) == 4
    first = seen[0]
    assert first.method == "POST" and first.url.path == "/api/v1/write"
    assert first.headers["Content-Encoding"] == "snappy"
    assert first.headers["Content-Type"] == "application/x-protobuf"
    assert first.headers["X-Prometheus-Remote-Write-Version"] == "0.1.0"
    parts = [decode_write_request(r.content, LabelCache()) for r in seen]
    assert [len(p) for p in parts] == [300, 300, 300, 100]
    assert parts[0].metadata == {"cpu": SeriesMeta("gauge", "CPU.", "")}
    assert all(not p.metadata for p in parts[1:])
    got = sorted((lb, t) for p in parts for lb, ts, _ in p.per_series() for t in ts.tolist())
    assert len(got) == len(set(got)) == 1000


def test_transient_failures_are_retried() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            raise httpx.ConnectError("connection refused", request=request)
        if len(calls) == 2:
            return httpx.Response(503, text="overloaded")
        return httpx.Response(204)

    assert storage(handler).append(sample_batch(3)).accepted == 6
    assert len(calls) == 3


def test_unreachable_remote_is_unavailable_after_all_attempts() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(Unavailable, match="after 3 attempts.*connection refused"):
        storage(handler, attempts=3).append(sample_batch(2))
    assert len(calls) == 3


def test_client_errors_carry_the_server_message_and_are_not_retried() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(400, text="out of order sample for series cpu{host=a}")

    with pytest.raises(InvalidInput, match="out of order sample for series"):
        storage(handler).append(sample_batch(2))
    assert len(calls) == 1


def test_missing_receiver_is_unavailable_with_the_reason() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, text="remote write receiver needs to be enabled")

    with pytest.raises(Unavailable, match="receiver needs to be enabled"):
        storage(handler).append(sample_batch(1))


def test_prometheus_select_asks_one_ms_more_and_cuts_at_start() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v1/query"
        assert request.url.params["query"] == '{__name__="cpu",host!="c"}[2001ms]'
        assert request.url.params["time"] == "1700000002.000"
        metric = {"__name__": "cpu", "host": "a"}
        # A closed-range server (Prometheus 2.x) also returns the sample at start - 1 ms.
        values = [[1699999999.999, "9"], [1700000000, "0.1"], [1700000002, "NaN"]]
        return ok({"resultType": "matrix", "result": [{"metric": metric, "values": values}]})

    matchers = [eq("__name__", "cpu"), Matcher("host", MatchType.NEQ, "c")]
    (series,) = storage(handler).select(matchers, 1_700_000_000_000, 1_700_000_002_000)
    assert series.labels == make_labels("cpu", {"host": "a"})
    assert series.timestamps.tolist() == [1_700_000_000_000, 1_700_000_002_000]
    assert series.values[0] == 0.1 and np.isnan(series.values[1])


def test_victoriametrics_select_reads_export_and_restores_stale_markers() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v1/export"
        assert request.url.params["start"] == "-0.005" and request.url.params["end"] == "5.000"
        rows = [
            {"metric": {"__name__": "up", "job": "x"}, "values": [2, None], "timestamps": [3, 4]},
            {"metric": {"__name__": "up", "job": "x"}, "values": [1], "timestamps": [1]},
        ]
        return httpx.Response(200, text="\n".join(json.dumps(r) for r in rows) + "\n")

    (series,) = storage(handler, "victoriametrics").select([eq("job", "x")], -5, 5000)
    assert series.timestamps.tolist() == [1, 3, 4]
    assert series.values.view(np.uint64)[2] == 0x7FF0000000000002


def test_flavor_is_detected_from_buildinfo_then_export() -> None:
    def prometheus(request: httpx.Request) -> httpx.Response:
        return ok({"version": "2.42.0"})

    def victoria(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/export":
            return httpx.Response(200, text="")
        return ok({})

    assert storage(prometheus, "auto").flavor == "prometheus"
    assert storage(victoria, "auto").flavor == "victoriametrics"


def test_admin_api_disabled_is_unavailable_with_a_hint() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/series":
            return ok([{"__name__": "cpu", "host": "a"}])
        body = {"status": "error", "errorType": "unavailable", "error": "admin APIs disabled"}
        return httpx.Response(500, json=body)

    with pytest.raises(Unavailable, match="--web.enable-admin-api"):
        storage(handler).delete_series([eq("host", "a")], 0, 10)


def test_label_and_series_endpoints() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/api/v1/labels":
            assert "match[]" not in request.url.params
            return ok(["job", "__name__"])
        if path == "/api/v1/label/job/values":
            assert request.url.params["match[]"] == '{__name__="up"}'
            return ok(["b", "a"])
        if path == "/api/v1/series":
            return ok([{"job": "b", "__name__": "up"}])
        if path == "/api/v1/metadata":
            return ok({"up": [{"type": "gauge", "help": "Up.", "unit": ""}]})
        return httpx.Response(404, text="no such endpoint")

    st = storage(handler)
    assert st.label_names() == ["__name__", "job"]
    assert st.label_values("job", [eq("__name__", "up")]) == ["a", "b"]
    assert st.series([eq("job", "b")], 0, 1) == [make_labels("up", {"job": "b"})]
    assert st.metadata() == {"up": SeriesMeta("gauge", "Up.", "")}
    with pytest.raises(InvalidInput, match="invalid label name"):
        st.label_values("bad-name")
    with pytest.raises(NotFound, match="no such endpoint"):
        st.stats()


def test_selector_text_quotes_values_and_never_matches_everything_empty() -> None:
    matchers = [Matcher("path", MatchType.RE, 'a"b\\.c'), Matcher("x", MatchType.NRE, ".+")]
    assert selector_text(matchers) == r'{path=~"a\"b\\.c",x!~".+"}'
    assert selector_text(matchers[1:]) == '{x!~".+",__name__=~".+"}'
    assert selector_text([]) == '{__name__=~".+"}'


def test_empty_remote_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="remote_url"):
        RemoteStorage(StorageSettings(backend="remote"))
