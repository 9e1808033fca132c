"""*_over_time functions against Prometheus's functions.test / range_queries.test values,
including its extreme-value cases for sum and average."""

from __future__ import annotations

import math

import numpy as np
import pytest

from openmanager.promql.types import StepVector
from openmanager.tsdb.matchers import Matcher, MatchType
from tests.promql.functions_helpers import call, labels, range_vector, result, rows, series

S = 1000


def one(
    name: str, spec: str, at: int, rng: int, interval: int = 10 * S, *extra: float
) -> float | None:
    rv = range_vector([series(labels(), interval, spec)], [at], rng)
    got = result(call(name, *extra, rv, steps_ms=[at]) if extra else call(name, rv, steps_ms=[at]))
    return got.get(labels())


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("1 2 3 4 5", 3),
        ("1 2 3 4 Inf", math.inf),
        ("1 2 3 4 -Inf", -math.inf),
        ("1 2 3 Inf -Inf", math.nan),
        ("Inf 0 Inf", math.inf),
        ("Inf Inf Inf -Inf", math.nan),
        ("1 2 3 -Inf -Inf", -math.inf),
        ("-Inf 0 -Inf", -math.inf),
        ("1 2 -Inf -Inf Inf", math.nan),
        ("9.988465674311579e+307 9.988465674311579e+307", 9.988465674311579e307),
        (
            "-9.988465674311579e+307 -9.988465674311579e+307 -9.988465674311579e+307",
            -9.988465674311579e307,
        ),
        ("-9.988465674311579e+307 9.988465674311579e+307", 0),
        ("1 2 3 NaN NaN", math.nan),
    ],
)
def test_avg_over_time_special_values(spec: str, expected: float) -> None:
    got = one("avg_over_time", spec, 55 * S, 60 * S)
    assert got is not None
    assert (math.isnan(got) and math.isnan(expected)) or got == pytest.approx(expected, rel=1e-12)


def test_sum_overflow_gives_inf_but_avg_does_not() -> None:
    spec = "9.988465674311579e+307 9.988465674311579e+307"
    assert one("sum_over_time", spec, 55 * S, 60 * S) == math.inf
    assert one("avg_over_time", spec, 55 * S, 60 * S) == 9.988465674311579e307


def test_no_and_one_sample_windows() -> None:
    assert one("avg_over_time", "1 2 3 4 5", 55 * S, 10 * S) is None
    assert one("avg_over_time", "1 2 3 4 5", 55 * S, 20 * S) == 5


def test_big_intermediate_values_keep_small_ones() -> None:
    assert one("sum_over_time", "1 1e100 1 -1e100", 60 * S, 120 * S) == 2
    assert one("avg_over_time", "1 1e100 1 -1e100", 60 * S, 120 * S) == 0.5


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("1e10 1e-6 1e-6 1e-6 1e-6 1e-6", 1.6666666666666675e09),
        (
            "5.30921651659898 0.961118537914768 1.62091361305318 0.865089463758091 0.323055185914577 0.951811357687154",
            1.67186744582113,
        ),
        ("1.78264e50 0.76342771 1.9592258 7.69805412 458.90154", 3.56528e49),
        ("1.78264E+50 0.76342771 1.9592258 2.258E+220 7.69805412 458.90154", 3.76333333333333e219),
        (
            "-1.78264E+50 0.76342771 1.9592258 -2.258E+220 7.69805412 -458.90154",
            -3.76333333333333e219,
        ),
        (
            "-1.78264E+215 0.76342771 1.9592258 2.258E+220 7.69805412 1.78264E+215 -458.90154",
            3.225714285714286e219,
        ),
        (
            "-1.78264E+219 0.76342771 1.9592258 2.3757689E+217 -2.3757689E+217 2.258E+220 7.69805412 1.78264E+219 -458.90154",
            2.5088888888888888e219,
        ),
    ],
)
def test_avg_over_time_extreme_magnitudes(spec: str, expected: float) -> None:
    assert one("avg_over_time", spec, 55 * S, 60 * S, 5 * S) == pytest.approx(expected, rel=1e-6)


def test_avg_over_time_matches_kahan_where_it_cancels_to_zero() -> None:
    spec = (
        "-2.258E+220 -1.78264E+219 0.76342771 1.9592258 2.3757689E+217 -2.3757689E+217 "
        "2.258E+220 7.69805412 1.78264E+219 -458.90154"
    )
    assert one("avg_over_time", spec, 55 * S, 60 * S, 5 * S) == 0


@pytest.mark.parametrize("rng", [100, 110, 120, 130])
def test_avg_of_constant_is_exact(rng: int) -> None:
    assert one("avg_over_time", "52+0x100", 600 * S, rng * S) == 52


@pytest.mark.parametrize("ms", [1000, 1001, 1002, 1003, 2000, 2001, 3002, 3003])
def test_sum_over_dense_samples(ms: int) -> None:
    assert one("sum_over_time", "1+0x4000", 4 * S, ms, 1) == ms


def test_sum_over_time_range_query() -> None:
    s = series(labels(), 15 * S, "5 17 42 2 7 905 51")
    steps = [0, 30 * S, 60 * S, 90 * S]
    (got,) = rows(call("sum_over_time", range_vector([s], steps, 30 * S), steps_ms=steps)).values()
    assert got == [5, 59, 9, 956]


def test_stddev_and_stdvar() -> None:
    assert one("stdvar_over_time", "0 8 8 2 3", 60 * S, 120 * S) == pytest.approx(10.56)
    assert one("stddev_over_time", "0 8 8 2 3", 60 * S, 120 * S) == pytest.approx(3.249615)
    same = "1.5990505637277868 1.5990505637277868 1.5990505637277868"
    assert one("stdvar_over_time", same, 55 * S, 60 * S) == 0
    assert one("stddev_over_time", same, 55 * S, 60 * S) == 0


def test_min_max_last_first_count_present() -> None:
    spec = "3 NaN 1 7 NaN 2"
    assert one("max_over_time", spec, 50 * S, 60 * S) == 7
    assert one("min_over_time", spec, 50 * S, 60 * S) == 1
    assert math.isnan(one("max_over_time", "NaN NaN", 10 * S, 60 * S) or 0.0)
    assert one("last_over_time", spec, 50 * S, 60 * S) == 2
    assert one("first_over_time", spec, 50 * S, 60 * S) == 3
    assert one("count_over_time", spec, 50 * S, 25 * S) == 3
    assert one("present_over_time", spec, 50 * S, 25 * S) == 1


def test_ts_of_functions() -> None:
    interval = 10_053
    assert one("ts_of_min_over_time", "1 2 3 0 5 6 2 1 4", 90 * S, 90 * S, interval) == 30.159
    assert one("ts_of_max_over_time", "1 2 3 0 5 6 2 1 4", 90 * S, 90 * S, interval) == 50.265
    assert one("ts_of_last_over_time", "1 2 3 _ _", 95 * S, 90 * S, interval) == 20.106
    assert one("ts_of_max_over_time", "5 1 5 2", 40 * S, 60 * S) == 20  # last of equal maxima


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        (0, [0, 0, 0]),
        (0.5, [0.5, 1, 1]),
        (0.75, [0.75, 1.5, 2.5]),
        (0.8, [0.8, 1.6, 2.8]),
        (1, [1, 2, 4]),
        (-1, [-math.inf] * 3),
        (2, [math.inf] * 3),
    ],
)
def test_quantile_over_time(q: float, expected: list[float]) -> None:
    data = [
        series(labels(test="two"), 10 * S, "0 1"),
        series(labels(test="three"), 10 * S, "0 1 2"),
        series(labels(test="uneven"), 10 * S, "0 1 4"),
    ]
    got = result(
        call(
            "quantile_over_time", float(q), range_vector(data, [60 * S], 120 * S), steps_ms=[60 * S]
        )
    )
    assert [got[labels(test=t)] for t in ("two", "three", "uneven")] == pytest.approx(expected)


def test_quantile_over_time_sorts_nan_first() -> None:
    assert math.isnan(one("quantile_over_time", "NaN 1 2", 30 * S, 60 * S, 10 * S, 0.0) or 0.0)
    assert one("quantile_over_time", "NaN 1 2", 30 * S, 60 * S, 10 * S, 1.0) == 2


def test_mad_over_time() -> None:
    assert one("mad_over_time", "4 6 2 1 999 1 2", 70 * S, 70 * S) == 1


def test_double_exponential_smoothing() -> None:
    s = series(labels(), 10 * S, "0+10x1000 100+30x1000")
    rv = range_vector([s], [8000 * S], 60 * S)
    got = result(call("double_exponential_smoothing", rv, 0.01, 0.1, steps_ms=[8000 * S]))
    assert got[labels()] == pytest.approx(8000)


def test_absent_over_time_uses_matchers_for_labels() -> None:
    s = series(labels("http_requests_total", handler="/foo"), 60 * S, "1 1 1 _ _ _ _ _ _ _ 1")
    eq = MatchType.EQ
    matchers = ((Matcher("handler", eq, "/foo"), Matcher("instance", eq, "127.0.0.1")),)
    steps = [5 * 60 * S, 9 * 60 * S]
    got = call(
        "absent_over_time", range_vector([s], steps, 5 * 60 * S), steps_ms=steps, matchers=matchers
    )
    assert rows(got) == {labels(handler="/foo", instance="127.0.0.1"): [None, 1.0]}
    empty = call("absent_over_time", range_vector([], steps, 60 * S), steps_ms=steps)
    assert rows(empty) == {(): [1.0, 1.0]}


def test_long_windows_are_chunked_consistently(monkeypatch: pytest.MonkeyPatch) -> None:
    from openmanager.promql.functions import _common

    rng = np.random.default_rng(7)
    values = " ".join(f"{v:.6f}" for v in rng.normal(100, 15, 400))
    s = series(labels(), 15 * S, values)
    steps = list(range(0, 6000 * S, 45 * S))
    rv = range_vector([s], steps, 900 * S)
    fns = ("stddev_over_time", "mad_over_time", "ts_of_max_over_time")
    before = {n: call(n, rv, steps_ms=steps) for n in fns}
    monkeypatch.setattr(_common, "GATHER_CHUNK", 97)
    for n in fns:
        a, b = before[n], call(n, rv, steps_ms=steps)
        assert isinstance(a, StepVector) and isinstance(b, StepVector)
        np.testing.assert_array_equal(a.values, b.values)


def test_quantile_over_time_warns_outside_zero_one() -> None:
    from openmanager.promql.functions import FUNCTIONS
    from openmanager.promql.types import EvalContext, StepScalar

    rv = range_vector([series(labels(), 10 * S, "0 1 2")], [60 * S, 70 * S], 120 * S)
    ctx = EvalContext(np.array([60 * S, 70 * S], dtype=np.int64))
    FUNCTIONS["quantile_over_time"].impl(ctx, [StepScalar(np.array([-1.0, 0.5])), rv])
    assert ctx.warnings == ["PromQL warning: quantile value should be between 0 and 1, got -1"]
