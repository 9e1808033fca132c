"""parse_query, format_query, runtimeinfo, and the engine's protections seen through the API."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import MakeClient


@pytest.fixture
def client(make_client: MakeClient) -> TestClient:
    return make_client(simulator={"faults": False})


def test_parse_query_returns_prometheus_ast(client: TestClient) -> None:
    q = 'sum by (job) (rate(http_requests_total{code=~"5.."}[5m] offset 1m)) / on(job) group_left up'
    body = client.get("/api/v1/parse_query", params={"query": q}).json()
    assert body["status"] == "success"
    tree = body["data"]
    assert tree["type"] == "binaryExpr" and tree["op"] == "/" and tree["bool"] is False
    assert tree["matching"] == {"card": "many-to-one", "labels": ["job"], "on": True, "include": []}
    agg = tree["lhs"]
    assert (agg["type"], agg["op"], agg["grouping"], agg["without"]) == (
        "aggregation",
        "sum",
        ["job"],
        False,
    )
    call = agg["expr"]
    assert call["func"] == {
        "name": "rate",
        "argTypes": ["matrix"],
        "variadic": 0,
        "returnType": "vector",
    }
    (sel,) = call["args"]
    assert sel == {
        "type": "matrixSelector",
        "name": "http_requests_total",
        "range": 300_000,
        "offset": 60_000,
        "matchers": [
            {"name": "code", "value": "5..", "type": "=~"},
            {"name": "__name__", "value": "http_requests_total", "type": "="},
        ],
        "timestamp": None,
        "startOrEnd": None,
    }
    assert tree["rhs"]["type"] == "vectorSelector"


def test_parse_query_literals_subquery_and_at(client: TestClient) -> None:
    tree = client.post(
        "/api/v1/parse_query", data={"query": "max_over_time((-x @ 100)[1h:5m] @ end()) > bool 0.5"}
    ).json()["data"]
    assert tree["matching"] is None and tree["bool"] is True
    assert tree["rhs"] == {"type": "numberLiteral", "val": "0.5"}
    sub = tree["lhs"]["args"][0]
    assert (sub["type"], sub["range"], sub["step"], sub["startOrEnd"]) == (
        "subquery",
        3_600_000,
        300_000,
        "end",
    )
    inner = sub["expr"]["expr"]
    assert inner["type"] == "unaryExpr" and inner["op"] == "-"
    assert inner["expr"]["timestamp"] == 100_000


def test_parse_query_error(client: TestClient) -> None:
    resp = client.get("/api/v1/parse_query", params={"query": "rate(x)"})
    assert resp.status_code == 400
    assert resp.json()["error"] == (
        'invalid parameter "query": parse error: expected type range vector in call to '
        'function "rate", got instant vector'
    )


def test_format_query_is_canonical(client: TestClient) -> None:
    body = client.get("/api/v1/format_query", params={"query": "sum(x)by(a)/on(b)y"}).json()
    assert body["data"] == "sum by (a) (x) / on (b) y"


def test_runtimeinfo_has_prometheus_fields(client: TestClient) -> None:
    data = client.get("/api/v1/status/runtimeinfo").json()["data"]
    for key in (
        "startTime",
        "CWD",
        "reloadConfigSuccess",
        "lastConfigTime",
        "corruptionCount",
        "goroutineCount",
        "GOMAXPROCS",
        "GOGC",
        "GODEBUG",
        "storageRetention",
    ):
        assert key in data
    assert data["startTime"].endswith("Z") and data["storageRetention"] == "7d"
    assert data["goroutineCount"] >= 1


def test_query_timeout_is_503(client: TestClient) -> None:
    client.app.state.platform.queries.engine.timeout_s = 1e-9  # type: ignore[attr-defined]
    resp = client.get("/api/v1/query", params={"query": "sum(node_load1)"})
    assert resp.status_code == 503
    assert resp.json() == {
        "status": "error",
        "errorType": "timeout",
        "error": "query timed out in expression evaluation",
    }


def test_timeout_parameter_shortens_the_deadline(client: TestClient) -> None:
    params = {"query": "sum(node_load1)", "timeout": "0.000000001"}
    assert client.get("/api/v1/query", params=params).status_code == 503
    params["timeout"] = "1m"
    assert client.get("/api/v1/query", params=params).status_code == 200


def test_too_many_samples_is_422(client: TestClient) -> None:
    client.app.state.platform.queries.engine.max_samples = 10  # type: ignore[attr-defined]
    resp = client.get("/api/v1/query", params={"query": "max_over_time(node_load1[10m])"})
    assert resp.status_code == 422
    body = resp.json()
    assert body["errorType"] == "execution"
    assert body["error"] == (
        "query processing would load too many samples into memory in query execution"
    )
    ok = client.get("/api/v1/query", params={"query": "1 + 1"})
    assert ok.status_code == 200
