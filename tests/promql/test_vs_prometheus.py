"""The engine beside a real Prometheus on the same data: identical series and values (1e-9).

One data set (`compare_data`) goes into Prometheus through `promtool tsdb create-blocks-from
openmetrics` and into OpenManager's `EmbeddedStorage` through the backfill service; every query
below runs as a range query on both, at evaluation times between sample timestamps.

Prometheus 2.42 (Debian's) differs from Prometheus 3 (our reference) in one more place than
window edges: it clamps `rate`'s extrapolation to a counter's zero point before deciding
whether to extrapolate to the window start. The queries start one hour into the data, so no
counter window reaches back before a series' first sample, where the two orders disagree.
Stale markers cannot be written in OpenMetrics text, so staleness is exercised by a series
that stops (and by the `.test` suite).
"""

from __future__ import annotations

import math
import subprocess
from collections.abc import Iterator

import httpx
import pytest

from openmanager.config.settings import StorageSettings
from openmanager.promql.engine import Engine
from openmanager.services.backfill import backfill
from openmanager.tsdb.engine import EmbeddedStorage
from tests.helpers import require_binary
from tests.peers import run_prometheus
from tests.promql.compare_data import T0_S, write_openmetrics

START_S = T0_S + 3600 + 7.5  # x:x7.5 s: never a sample time, nor a window edge
END_S = T0_S + 5 * 3600 + 50 * 60
STEP_S = 60
REL_TOL = 1e-9
NOISE = 1e-12
"""Both values this close to 0 are rounding noise of a sum that is exactly 0 (e.g. of +-0.1
steps): Prometheus 2.42 sums naively, Prometheus 3 (and we) with Kahan compensation."""

R = "cmp_requests_total"
T = "cmp_temperature"
H = "cmp_latency_seconds"
QUERIES = [
    # selectors, offsets, @
    R,
    f'{R}{{code="500"}}',
    f'{R}{{code!="500",instance=~"a|b"}}',
    f'{T}{{instance!~"c"}} offset 5m',
    f"{T} @ {T0_S + 3600 + 7.5}",
    f"{R} - {R} offset 15m",
    # counter functions
    f"rate({R}[5m])",
    f"rate({R}[1h])",
    f"increase({R}[10m])",
    f"irate({R}[2m])",
    f"resets({R}[1h])",
    f"changes({T}[30m])",
    f"delta({T}[10m])",
    f"idelta({T}[5m])",
    f"deriv({T}[20m])",
    f"predict_linear({T}[30m], 3600)",
    # over_time
    f"avg_over_time({T}[10m])",
    f"sum_over_time({R}[5m])",
    f"min_over_time({T}[15m])",
    f"max_over_time({T}[1h])",
    f"count_over_time({R}[7m30s])",
    f"stddev_over_time({T}[30m])",
    f"stdvar_over_time({T}[30m])",
    f"quantile_over_time(0.9, {T}[20m])",
    f"last_over_time({T}[10m])",
    f"present_over_time({T}[2m])",
    f'absent_over_time({T}{{instance="c",kind=""}}[10m])',
    # aggregations
    f"sum by (instance) (rate({R}[5m]))",
    f"sum without (code) (rate({R}[5m]))",
    f"avg by (code) (rate({R}[5m]))",
    f"max({T})",
    f"min by (kind) ({T})",
    f"count by (instance) ({T})",
    f"group by (code) ({R})",
    f"stddev({T})",
    f"stdvar by (kind) ({T})",
    f"topk(2, {T})",
    f"bottomk(1, rate({R}[5m]))",
    f"quantile(0.3, {T})",
    f'count_values("v", round({T}{{kind="delta"}}))',
    # histograms
    f"histogram_quantile(0.9, rate({H}_bucket[5m]))",
    f"histogram_quantile(0.5, sum by (le) (rate({H}_bucket[10m])))",
    f"histogram_quantile(0.99, sum by (le, instance) (increase({H}_bucket[1h])))",
    f"rate({H}_sum[5m]) / rate({H}_count[5m])",
    # binary operators and matching
    f'sum by (instance) (rate({R}{{code="500"}}[5m])) / sum by (instance) (rate({R}[5m]))',
    f'rate({R}{{code="500"}}[5m]) / ignoring (code) group_left rate({R}{{code="200"}}[5m])',
    f"{T} > 20",
    f"{T} > bool 20",
    f'{T}{{kind="delta"}} < on (instance) group_left {T}{{kind!="delta"}}',
    f'{T} and on (instance) rate({R}{{code="500"}}[5m]) > 0.2',
    f'{T} or on (instance) {R}{{code="200"}}',
    f'{T} unless on (instance) {T}{{instance="a"}}',
    f"2 ^ ({T} / 10) % 7",
    f"-{T} * 1.5 + 3",
    # math, clamps, time
    f"abs({T})",
    f"ceil({T}) - floor({T})",
    f"round({T}, 0.25)",
    f"clamp({T}, -1, 21)",
    f"clamp_min({T}, 20) + clamp_max({T}, 20)",
    f"sqrt(abs({T})) + exp({T} / 100) + ln(abs({T}) + 1)",
    f"log2({R}) + log10({R})",
    f"sgn({T})",
    f"timestamp({T})",
    "time()",
    f"hour(timestamp({T})) + minute(timestamp({T}))",
    "day_of_week() + day_of_month() + month() + year()",
    # labels, absent, scalar/vector, sorting
    f'label_replace(rate({R}[5m]), "srv", "host-$1", "instance", "(.*)")',
    f'label_join({T}, "both", "/", "instance", "kind")',
    f'absent({T}{{instance="zzz"}})',
    f'absent({T}{{instance="c",kind=""}})',
    f'scalar(sum({T}{{kind="delta"}})) * {T}',
    f"vector(scalar(count({T})))",
    f"sort_desc(sum by (instance) ({T}))",
    # subqueries
    f"max_over_time(rate({R}[5m])[30m:1m])",
    f"avg_over_time(sum by (instance) ({T})[1h:5m])",
    f"min_over_time(deriv({T}[10m])[20m:30s] offset 2m)",
]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Engine]]:
    """(Prometheus URL, engine over OpenManager's store), both holding the same samples."""
    yield from _load(tmp_path_factory, aligned=False)


@pytest.fixture(scope="module")
def loaded_aligned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Engine]]:
    """As `loaded`, samples exactly on the query grid, engine in Prometheus 2 window mode."""
    yield from _load(tmp_path_factory, aligned=True)


def _load(factory: pytest.TempPathFactory, *, aligned: bool) -> Iterator[tuple[str, Engine]]:
    promtool = require_binary("promtool")
    require_binary("prometheus")
    tmp = factory.mktemp("vs-prometheus")
    source = tmp / "data.om"
    total = write_openmetrics(source, aligned=aligned)
    subprocess.run(
        [
            promtool,
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            str(source),
            str(tmp / "prometheus-data"),
        ],
        check=True,
        capture_output=True,
    )
    settings = StorageSettings(
        path=tmp / "om", out_of_order_window="100y", future_tolerance="10m", wal_fsync=False
    )
    storage = EmbeddedStorage(tmp / "om", settings)
    try:
        report = backfill(storage, source)
        assert report.samples_stored == total, report.errors
        with run_prometheus(tmp) as url:
            yield url, Engine(storage, closed_windows=aligned)
    finally:
        storage.close()


def _prometheus(
    url: str, query: str, start_s: float = START_S
) -> dict[tuple[tuple[str, str], ...], dict[float, str]]:
    params = {"query": query, "start": str(start_s), "end": str(END_S), "step": str(STEP_S)}
    body = httpx.post(f"{url}/api/v1/query_range", data=params, timeout=60).json()
    assert body["status"] == "success", body
    return {
        tuple(sorted(s["metric"].items())): {float(t): v for t, v in s["values"]}
        for s in body["data"]["result"]
    }


def _ours(
    engine: Engine, query: str, start_s: float = START_S
) -> dict[tuple[tuple[str, str], ...], dict[float, float]]:
    res = engine.range_query(query, int(start_s * 1000), int(END_S * 1000), STEP_S * 1000)
    return {
        tuple(sorted(s.labels)): {
            t / 1000: v for t, v in zip(s.timestamps.tolist(), s.values.tolist(), strict=True)
        }
        for s in res.series
    }


def _same(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if a == b or (abs(a) <= NOISE and abs(b) <= NOISE):
        return True
    return abs(a - b) <= REL_TOL * max(abs(a), abs(b))


def test_enough_queries() -> None:
    assert len(QUERIES) >= 50
    assert len(set(QUERIES)) == len(QUERIES)


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("query", QUERIES)
def test_same_as_prometheus(loaded: tuple[str, Engine], query: str) -> None:
    _check(*loaded, query, START_S)


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("query", QUERIES)
def test_prometheus2_windows_on_the_sample_grid(
    loaded_aligned: tuple[str, Engine], query: str
) -> None:
    """Samples on every window edge, from the data's first minute: the engine's Prometheus 2
    mode (closed windows, its rate extrapolation order) must give Prometheus 2.42's values."""
    _check(*loaded_aligned, query, T0_S + 60)


def _check(url: str, engine: Engine, query: str, start_s: float) -> None:
    theirs = _prometheus(url, query, start_s)
    ours = _ours(engine, query, start_s)
    assert theirs, f"Prometheus returned nothing for {query}: the comparison would be vacuous"
    assert sorted(ours) == sorted(theirs)
    bad = []
    for labels, points in theirs.items():
        mine = ours[labels]
        assert sorted(mine) == sorted(points), f"{labels}: different timestamps"
        for t, text in points.items():
            if not _same(mine[t], float(text)):
                bad.append((dict(labels), t, text, mine[t]))
    assert not bad, f"{len(bad)} values differ, first: {bad[:3]}"
