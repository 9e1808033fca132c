"""rate/increase/delta/irate/idelta/deriv/predict_linear/resets/changes against the expected
values of Prometheus's functions.test (and its hand-worked comments)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from openmanager.promql.functions import FUNCTIONS
from openmanager.promql.types import RangeSeries
from openmanager.samples import Labels
from tests.promql.functions_helpers import call, labels, range_vector, result, rows, series

M = 60_000


def _paths(spec: dict[str, str], interval: int = 5 * M) -> list[RangeSeries]:
    return [series(labels(path=p), interval, s) for p, s in spec.items()]


RESETS_DATA = {
    "/foo": "1 2 3 0 1 0 0 1 2 0",
    "/bar": "1 2 3 4 5 1 2 3 4 5",
    "/biz": "0 0 0 0 0 1 1 1 1 1",
}


@pytest.mark.parametrize(
    ("rng", "expected"),
    [
        (5 * M, {}),
        (10 * M, {"/foo": 0, "/bar": 0, "/biz": 0}),
        (20 * M, {"/foo": 1, "/bar": 0, "/biz": 0}),
        (32 * M, {"/foo": 2, "/bar": 1, "/biz": 0}),
        (50 * M, {"/foo": 3, "/bar": 1, "/biz": 0}),
    ],
)
def test_resets(rng: int, expected: dict[str, float]) -> None:
    rv = range_vector(_paths(RESETS_DATA), [50 * M], rng)
    got = result(call("resets", rv, steps_ms=[50 * M]))
    assert got == {labels(path=p): v for p, v in expected.items()}


@pytest.mark.parametrize(
    ("rng", "expected"),
    [
        (5 * M, {}),
        (6 * M, {"/foo": 0, "/bar": 0, "/biz": 0}),
        (20 * M, {"/foo": 2, "/bar": 2, "/biz": 0}),
        (30 * M, {"/foo": 3, "/bar": 4, "/biz": 0}),
        (50 * M, {"/foo": 7, "/bar": 8, "/biz": 1}),
    ],
)
def test_changes(rng: int, expected: dict[str, float]) -> None:
    rv = range_vector(_paths(RESETS_DATA), [50 * M], rng)
    got = result(call("changes", rv, steps_ms=[50 * M]))
    assert got == {labels(path=p): v for p, v in expected.items()}


def test_changes_treats_nan_as_equal_to_nan() -> None:
    rv = range_vector(
        [series(labels(a="b"), 5 * M, "NaN NaN NaN"), series(labels(a="c"), 5 * M, "0 NaN 0")],
        [15 * M],
        20 * M,
    )
    assert result(call("changes", rv, steps_ms=[15 * M])) == {labels(a="b"): 0, labels(a="c"): 2}


def test_increase_extrapolation_stops_at_zero() -> None:
    data = {
        "/foo": "0+10x10",
        "/bar": "0+18x5 0+18x5",
        "/dings": "10+10x10",
        "/bumms": "1+10x10",
    }
    at = [50 * M]
    got = result(call("increase", range_vector(_paths(data), at, 50 * M), steps_ms=at))
    assert got == pytest.approx(
        {
            labels(path="/foo"): 100,
            labels(path="/bar"): 160,
            labels(path="/dings"): 100,
            labels(path="/bumms"): 100,
        }
    )
    got = result(call("increase", range_vector(_paths(data), at, 100 * M), steps_ms=at))
    assert got == pytest.approx(
        {
            labels(path="/foo"): 100,
            labels(path="/bar"): 162,
            labels(path="/dings"): 105,
            labels(path="/bumms"): 101,
        }
    )


def test_increase_counter_reset_counts_from_zero() -> None:
    rv = range_vector(_paths({"/foo": "0 1 2 3 2 3 4"}), [30 * M], 30 * M)
    assert result(call("increase", rv, steps_ms=[30 * M])) == pytest.approx(
        {labels(path="/foo"): 7}
    )


def test_rate_resets_in_middle_and_at_end() -> None:
    mid = series(labels("testcounter_reset_middle_total"), 5 * M, "0+27x4 0+27x5")
    end = series(labels("testcounter_reset_end_total"), 5 * M, "0+10x9 0 10")
    at = [50 * M]
    got = result(call("rate", range_vector([mid], at, 50 * M), steps_ms=at))
    assert list(got.values()) == pytest.approx([0.08])
    assert result(call("rate", range_vector([end], at, 5 * M), steps_ms=at)) == {}
    assert list(result(call("rate", range_vector([end], at, 6 * M), steps_ms=at)).values()) == [0]


def test_rate_with_offset_steps() -> None:
    a = series(labels(x="a"), 5 * M, "0+10x10")
    # `offset 5m` at 50m: the evaluator hands over steps already moved back by the offset.
    got = result(call("rate", range_vector([a], [45 * M], 10 * M), steps_ms=[50 * M]))
    assert got == pytest.approx({labels(x="a"): 0.03333333333333333})


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (10 * M, [0.5, 0.55, 0.6, 0.6, 0.6, 0.6]),
        (50 * M, [0.6] * 6),
    ],
)
def test_rate_zero_cutoff(at: int, expected: list[float]) -> None:
    data = [series(labels(start=f"{i}m"), 4 * M, f"{60 * i}+240x10") for i in range(6)]
    got = result(call("rate", range_vector(data, [at], 20 * M), steps_ms=[at]))
    assert [got[labels(start=f"{i}m")] for i in range(6)] == pytest.approx(expected)


def test_irate_and_counter_reset() -> None:
    data = _paths({"/foo": "0+10x10", "/bar": "0+10x5 0+10x5"})
    got = result(call("irate", range_vector(data, [50 * M], 50 * M), steps_ms=[50 * M]))
    assert got == pytest.approx({labels(path="/foo"): 1 / 30, labels(path="/bar"): 1 / 30})
    got = result(call("irate", range_vector(data, [30 * M], 50 * M), steps_ms=[30 * M]))
    assert got == pytest.approx({labels(path="/foo"): 1 / 30, labels(path="/bar"): 0})


def test_irate_and_idelta_propagate_nan_over_a_range() -> None:
    nan = series(labels("http_requests_nan"), 5 * M, "1 NaN NaN 5 11")
    steps = [0, 5 * M, 10 * M, 15 * M, 20 * M]
    irate = rows(call("irate", range_vector([nan], steps, 15 * M + 1000), steps_ms=steps))
    idelta = rows(call("idelta", range_vector([nan], steps, 15 * M + 1000), steps_ms=steps))
    (ir,) = irate.values()
    (idl,) = idelta.values()
    assert ir[0] is None and idl[0] is None
    assert all(math.isnan(v) for v in ir[1:4] + idl[1:4])  # type: ignore[arg-type]
    assert ir[4] == pytest.approx(0.02) and idl[4] == 6


def test_delta_and_idelta() -> None:
    data = _paths({"/foo": "0 50 100 150 200", "/bar": "200 150 100 50 0"})
    got = result(call("delta", range_vector(data, [20 * M], 20 * M), steps_ms=[20 * M]))
    assert got == pytest.approx({labels(path="/foo"): 200, labels(path="/bar"): -200})
    data = _paths({"/foo": "0 50 100 150", "/bar": "0 50 100 50"})
    got = result(call("idelta", range_vector(data, [20 * M], 20 * M), steps_ms=[20 * M]))
    assert got == {labels(path="/foo"): 50, labels(path="/bar"): -50}


def test_deriv_and_predict_linear() -> None:
    mid = series(labels(), 5 * M, "0+10x4 0+10x5")
    at = [50 * M]
    assert list(
        result(call("deriv", range_vector([mid], at, 100 * M), steps_ms=at)).values()
    ) == pytest.approx([0.010606060606060607])
    got = call("predict_linear", range_vector([mid], at, 50 * M), 3600.0, steps_ms=at)
    assert list(result(got).values()) == pytest.approx([70])
    # `[55m] @ 3000`: the window ends at 3000s but the intercept is at the evaluation time.
    for eval_ms, expected in (
        (50 * M, 76.81818181818181),
        (10 * M, 51.36363636363637),
        (70 * M, 89.54545454545455),
    ):
        rv = range_vector([mid], [3_000_000], 55 * M)
        got = call("predict_linear", rv, 3600.0, steps_ms=[eval_ms])
        assert list(result(got).values()) == pytest.approx([expected])


def test_deriv_with_infinities_is_nan() -> None:
    inf = series(labels(job="app"), 5 * M, "-Inf 0+80x10 Inf")
    got = result(call("deriv", range_vector([inf], [100 * M], 100 * M), steps_ms=[100 * M]))
    assert math.isnan(got[labels(job="app")])


def test_range_functions_drop_the_name_except_last_and_first() -> None:
    keeps = {n for n, d in FUNCTIONS.items() if d.keeps_name}
    assert {"last_over_time", "first_over_time", "label_replace", "sort"} <= keeps
    assert not keeps & {
        "rate",
        "max_over_time",
        "clamp",
        "round",
        "timestamp",
        "histogram_quantile",
    }


def test_range_query_over_many_steps_matches_single_steps() -> None:
    s = series(labels(), 15_000, "0+5x100 3+7x100")
    steps = list(range(0, 3_000_000, 37_000))
    whole = rows(call("rate", range_vector([s], steps, 5 * M), steps_ms=steps))
    (vals,) = whole.values()
    for j, t in enumerate(steps):
        one = result(call("rate", range_vector([s], [t], 5 * M), steps_ms=[t]))
        assert (vals[j] is None) == (not one)
        if one:
            assert vals[j] == pytest.approx(next(iter(one.values())))


def test_batched_series_equal_one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    from openmanager.promql.functions import range_rate

    rng = np.random.default_rng(3)
    data = []
    for i in range(23):
        size = int(rng.integers(1, 60))
        ts = np.sort(rng.choice(np.arange(0, 3_600_000, 1000), size, replace=False)).astype(
            np.int64
        )
        vals = np.cumsum(rng.integers(-3, 20, size)).astype(np.float64)
        data.append(RangeSeries(labels(i=str(i)), ts, vals))
    steps = list(range(0, 3_600_000, 97_000))
    rv = range_vector(data, steps, 7 * M)
    names = (
        "rate",
        "delta",
        "irate",
        "resets",
        "sum_over_time",
        "max_over_time",
        "stddev_over_time",
    )
    whole = {n: rows(call(n, rv, steps_ms=steps)) for n in names}
    monkeypatch.setattr(range_rate, "BATCH_SAMPLES", 50)
    small = {n: rows(call(n, rv, steps_ms=steps)) for n in names}
    for n in names:
        singles: dict[Labels, list[float | None]] = {}
        for s in data:
            singles |= rows(call(n, range_vector([s], steps, 7 * M), steps_ms=steps))
        for got in (whole[n], small[n]):
            assert got.keys() == singles.keys(), n
            for lab, want in singles.items():
                assert got[lab] == pytest.approx(want, nan_ok=True), (n, lab)


def test_window_bounds_fallback_for_huge_time_spans() -> None:
    far = 2_000_000_000_000_000_000
    a = RangeSeries(
        labels(i="a"), np.array([-far, -far + 1000], dtype=np.int64), np.array([1.0, 2.0])
    )
    b = RangeSeries(
        labels(i="b"), np.array([far, far + 1000], dtype=np.int64), np.array([5.0, 9.0])
    )
    steps = [-far + 1000, far + 1000]
    got = rows(call("idelta", range_vector([a, b], steps, 5000), steps_ms=steps))
    assert got == {labels(i="a"): [1.0, None], labels(i="b"): [None, 4.0]}
