"""Error responses of the query API beside a real Prometheus: same status, type and message.

Each request goes to `prometheus` (Debian's 2.42) and to OpenManager's app; the status code and
`errorType` must be identical and our message must equal Prometheus's once its `line:col:`
position (which promql-parser does not report) is removed. Cases where Prometheus 3 (our
reference semantics) differs from 2.42 are left out: numbers as durations, UTF-8 label names.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import MakeClient
from tests.peers import run_prometheus

POSITION = re.compile(r"\d+:\d+: ")

CASES: list[tuple[str, dict[str, str]]] = [
    ("/api/v1/query", {"query": "sum("}),
    ("/api/v1/query", {"query": "foo(up)"}),
    ("/api/v1/query", {"query": "rate(up)"}),
    ("/api/v1/query", {"query": "rate(up[5m], 1)"}),
    ("/api/v1/query", {"query": 'abs("x")'}),
    ("/api/v1/query", {"query": 'up + "x"'}),
    ("/api/v1/query", {"query": "up[5m] + 1"}),
    ("/api/v1/query", {"query": "sum(up[5m])"}),
    ("/api/v1/query", {"query": '{__name__=~".*"}'}),
    ("/api/v1/query", {"query": "x[5m:0s]"}),
    ("/api/v1/query", {"query": "1 and 1"}),
    ("/api/v1/query", {"query": "rate(up[100000y])"}),
    ("/api/v1/query", {"query": "up", "time": "yesterday"}),
    ("/api/v1/query", {"query": "up", "timeout": "abc"}),
    ("/api/v1/query", {"query": 'label_replace(vector(1), "x", "$1", "y", "(")'}),
    ("/api/v1/query", {"query": 'count_values("", vector(1))'}),
    (
        "/api/v1/query",
        {"query": '(vector(1) or label_replace(vector(1), "a", "b", "", "")) + on() vector(1)'},
    ),
    ("/api/v1/query_range", {"query": "up", "start": "0", "end": "100000", "step": "1"}),
    ("/api/v1/query_range", {"query": "up", "start": "0", "end": "1e15", "step": "1"}),
    ("/api/v1/query_range", {"query": "up", "start": "100", "end": "0", "step": "1"}),
    ("/api/v1/query_range", {"query": "up", "start": "0", "end": "100", "step": "0"}),
    ("/api/v1/query_range", {"query": "up", "start": "0", "end": "100", "step": "-5"}),
    ("/api/v1/query_range", {"query": "up", "start": "0", "end": "100", "step": "abc"}),
    ("/api/v1/query_range", {"query": "up[5m]", "start": "0", "end": "100", "step": "10"}),
    ("/api/v1/query_range", {"query": '"s"', "start": "0", "end": "100", "step": "10"}),
    ("/api/v1/series", {}),
    ("/api/v1/format_query", {"query": "sum("}),
]
SUCCESSES: list[tuple[str, dict[str, str]]] = [
    ("/api/v1/query", {"query": "up", "time": "1e20"}),
    ("/api/v1/query", {"query": "up", "time": "-1e20"}),
    ("/api/v1/query", {"query": "vector(1) + on() group_left vector(1) or vector(1)"}),
    ("/api/v1/format_query", {"query": "sum(x) by(a)/on(b)group_left(c) rate(y{a=~'b'}[5m])"}),
]


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    tmp: Path = tmp_path_factory.mktemp("prometheus")
    with run_prometheus(tmp) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield client


@pytest.fixture
def ours(make_client: MakeClient) -> TestClient:
    return make_client(simulator={"enabled": False})


@pytest.mark.integration
@pytest.mark.parametrize(("path", "params"), CASES, ids=[f"{p} {q}" for p, q in CASES])
def test_error_matches_prometheus(
    prometheus: httpx.Client, ours: TestClient, path: str, params: dict[str, str]
) -> None:
    theirs = prometheus.get(path, params=params)
    mine = ours.get(path, params=params)
    assert theirs.status_code >= 400, theirs.text
    assert mine.status_code == theirs.status_code, (mine.text, theirs.text)
    t, m = theirs.json(), mine.json()
    assert m["status"] == "error" and m["errorType"] == t["errorType"]
    assert m["error"] == POSITION.sub("", t["error"])


@pytest.mark.integration
@pytest.mark.parametrize(("path", "params"), SUCCESSES, ids=[f"{p} {q}" for p, q in SUCCESSES])
def test_success_matches_prometheus(
    prometheus: httpx.Client, ours: TestClient, path: str, params: dict[str, str]
) -> None:
    theirs = prometheus.get(path, params=params)
    mine = ours.get(path, params=params)
    assert theirs.status_code == mine.status_code == 200, (mine.text, theirs.text)
    t, m = theirs.json()["data"], mine.json()["data"]
    if isinstance(t, dict):  # query results: the evaluation time is "now" on each side
        assert m["resultType"] == t["resultType"]
        assert [r["metric"] for r in m["result"]] == [r["metric"] for r in t["result"]]
        assert [r["value"][1] for r in m["result"]] == [r["value"][1] for r in t["result"]]
    else:
        assert m == t
