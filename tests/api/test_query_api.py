"""/api/v1/query and /query_range over the simulated fleet: Prometheus's shapes and errors."""

from __future__ import annotations

import time

import pytest

from tests.api.conftest import MakeClient


@pytest.fixture
def client(make_client: MakeClient):  # type: ignore[no-untyped-def]
    return make_client(simulator={"faults": False})


def test_instant_vector_with_aggregation(client) -> None:  # type: ignore[no-untyped-def]
    body = client.get("/api/v1/query", params={"query": "count by (role) (node_load1)"}).json()
    assert body["status"] == "success"
    data = body["data"]
    assert data["resultType"] == "vector"
    counts = {r["metric"]["role"]: r["value"][1] for r in data["result"]}
    assert sum(int(v) for v in counts.values()) == 20
    assert set(counts) == {
        "web",
        "database",
        "api",
        "worker",
        "gateway",
        "cache",
        "storage",
        "monitoring",
    }
    ts, value = data["result"][0]["value"]
    assert isinstance(ts, float | int) and isinstance(value, str)


def test_rate_of_counters_is_positive_and_name_is_dropped(client) -> None:  # type: ignore[no-untyped-def]
    body = client.get(
        "/api/v1/query",
        params={"query": 'rate(node_network_receive_bytes_total{server="db-primary-01"}[5m])'},
    ).json()
    result = body["data"]["result"]
    assert result and all("__name__" not in r["metric"] for r in result)
    assert all(float(r["value"][1]) > 0 for r in result)


def test_scalar_and_string_results(client) -> None:  # type: ignore[no-untyped-def]
    scalar = client.get("/api/v1/query", params={"query": "1 + 2", "time": "1700000000"}).json()[
        "data"
    ]
    assert scalar == {"resultType": "scalar", "result": [1700000000, "3"]}
    string = client.get(
        "/api/v1/query", params={"query": '"hello"', "time": "1700000000.5"}
    ).json()["data"]
    assert string == {"resultType": "string", "result": [1700000000.5, "hello"]}


def test_range_query_matrix_on_the_step_grid_via_post_form(client) -> None:  # type: ignore[no-untyped-def]
    end = int(time.time()) // 60 * 60
    resp = client.post(
        "/api/v1/query_range",
        data={"query": "sum(node_load1)", "start": str(end - 300), "end": str(end), "step": "60s"},
    )
    data = resp.json()["data"]
    assert data["resultType"] == "matrix"
    (series,) = data["result"]
    assert series["metric"] == {}
    assert [p[0] for p in series["values"]] == list(range(end - 300, end + 1, 60))


@pytest.mark.parametrize(
    ("path", "params", "status", "fragment"),
    [
        ("/api/v1/query", {"query": "sum("}, 400, "parse error"),
        ("/api/v1/query", {}, 400, 'invalid parameter "query"'),
        ("/api/v1/query", {"query": "up", "time": "yesterday"}, 400, 'invalid parameter "time"'),
        (
            "/api/v1/query_range",
            {"query": "up", "start": "0", "end": "100", "step": "0"},
            400,
            "zero or negative",
        ),
        (
            "/api/v1/query_range",
            {"query": "up", "start": "0", "end": "100000", "step": "1"},
            400,
            "11,000 points",
        ),
        (
            "/api/v1/query_range",
            {"query": "up[5m]", "start": "0", "end": "60", "step": "15"},
            400,
            "range vector",
        ),
        (
            "/api/v1/query",
            {"query": 'label_replace(up, "x", "$1", "job", "(")'},
            422,
            "invalid regular expression",
        ),
    ],
)
def test_errors_use_the_prometheus_envelope(
    client, path: str, params: dict[str, str], status: int, fragment: str
) -> None:  # type: ignore[no-untyped-def]
    resp = client.get(path, params=params)
    assert resp.status_code == status
    body = resp.json()
    assert body["status"] == "error" and body["errorType"] in ("bad_data", "execution")
    assert fragment in body["error"]


def test_matrix_text_matches_the_generic_encoder() -> None:
    """The fast range-result writer gives exactly what encoding `matrix_json` gives."""
    import json

    import numpy as np

    from openmanager.api.promjson import matrix_json, matrix_text

    ts = np.array([1_700_000_000_000, 1_700_000_000_500, 1_700_000_060_000], dtype=np.int64)
    items = [
        ((("__name__", "x"), ("q", 'a"\\ü')), ts, np.array([1.0, 0.1 + 0.2, np.nan])),
        ((("i", "2"),), ts, np.array([np.inf, -np.inf, 1e-7])),
        ((), ts[:2], np.array([1e22, -0.0])),
    ]
    assert json.loads(matrix_text(items)) == json.loads(json.dumps(matrix_json(items)))
    assert '"values":[[1700000000,"1"],[1700000000.5,"0.30000000000000004"]' in matrix_text(items)


def test_matrix_text_spells_finite_values_as_format_value() -> None:
    """The batch value writer gives every finite value's `format_value` text, whatever its
    magnitude (50 series of 100 values, so most series take the batch path)."""
    import json

    import numpy as np

    from openmanager.api.promjson import format_value, matrix_text

    rng = np.random.default_rng(3)
    scale = 10.0 ** rng.integers(-3, 16, 4900) * rng.choice([-1.0, 1.0], 4900)
    values = np.concatenate(
        (rng.random(4900) * scale, np.arange(-47.0, 47.0), [0.0, -0.0, 0.1, 2 / 3, 1e15, 1.5])
    )
    ts = (1_700_000_000 + np.arange(100, dtype=np.int64)) * 1000
    items = [((("i", str(k)),), ts, values[k * 100 : (k + 1) * 100]) for k in range(50)]
    body = json.loads(matrix_text(items))
    got = [v for series in body for _, v in series["values"]]
    assert got == [format_value(x) for x in values.tolist()]
