"""Instant queries are answered from a cache while the data is unchanged, and never stale."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from prometheus_client import REGISTRY

from openmanager.promql.engine import QueryResult
from openmanager.samples import SampleBatch, make_labels
from openmanager.services.platform import Platform
from openmanager.services.query import QueryService
from openmanager.tsdb.engine import EmbeddedStorage
from openmanager.tsdb.matchers import Matcher, MatchType
from tests.api.conftest import MakeClient


def _cache_count(metrics: str, outcome: str) -> float:
    prefix = f'openmanager_query_cache_total{{outcome="{outcome}"}} '
    lines = [ln for ln in metrics.splitlines() if ln.startswith(prefix)]
    return float(lines[0].split()[-1]) if lines else 0.0


def test_instant_answers_are_cached_until_data_changes(make_client: MakeClient) -> None:
    client = make_client(simulator={"enabled": False})
    platform: Platform = client.app.state.platform  # type: ignore[attr-defined]
    now_ms = int(time.time()) * 1000
    series = make_labels("cache_probe", {"job": "t"})

    def write(value: float, at_ms: int) -> None:
        platform.storage.append(SampleBatch.from_series([(series, [at_ms], [value])]))

    def ask() -> str:
        params = {"query": "sum(cache_probe)", "time": f"{now_ms / 1000:.3f}"}
        body = client.get("/api/v1/query", params=params).json()
        assert body["status"] == "success"
        return str(body["data"]["result"][0]["value"][1])

    write(1.0, now_ms - 10_000)
    before = client.get("/metrics").text
    assert ask() == "1"
    assert ask() == "1"
    after = client.get("/metrics").text
    assert _cache_count(after, "hit") - _cache_count(before, "hit") == 1
    assert _cache_count(after, "miss") - _cache_count(before, "miss") == 1
    write(5.0, now_ms - 5_000)  # a newer sample before the query time: the answer changes
    assert ask() == "5"
    probe = [Matcher("__name__", MatchType.EQ, "cache_probe")]
    platform.storage.delete_series(probe, now_ms - 6_000, now_ms)  # type: ignore[attr-defined]
    assert ask() == "1"  # the deleted sample no longer answers


def test_now_is_taken_to_the_second(make_client: MakeClient) -> None:
    body = make_client(simulator={"enabled": False}).get(
        "/api/v1/query", params={"query": "time()"}
    )
    value = body.json()["data"]["result"]
    assert float(value[0]) == int(float(value[0]))


def test_concurrent_equal_queries_share_one_evaluation(tmp_path: Path) -> None:
    storage = EmbeddedStorage(tmp_path / "data")
    try:
        now_ms = int(time.time()) * 1000
        series = make_labels("shared_probe", {"job": "t"})
        storage.append(SampleBatch.from_series([(series, [now_ms - 1000], [3.0])]))
        queries = QueryService(storage)

        async def ask_many() -> list[QueryResult]:
            return await asyncio.gather(
                *(queries.shared_instant("sum(shared_probe)", now_ms) for _ in range(10))
            )

        misses = REGISTRY.get_sample_value("openmanager_query_cache_total", {"outcome": "miss"})
        results = asyncio.run(ask_many())
        after = REGISTRY.get_sample_value("openmanager_query_cache_total", {"outcome": "miss"})
        assert (after or 0) - (misses or 0) == 1
        assert all(r is results[0] for r in results)
        assert float(results[0].series[0].values[0]) == 3.0
    finally:
        storage.close()
