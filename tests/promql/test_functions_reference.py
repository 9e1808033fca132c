"""The vectorised range functions equal sample-by-sample ports of Prometheus's Go code on
random series, steps and ranges (including counter resets, NaN and infinities)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openmanager.promql.functions import _sums, regression
from openmanager.promql.types import RangeSeries, Value
from tests.promql import functions_reference as ref
from tests.promql.functions_helpers import call, labels, range_vector, rows

CASES: dict[str, tuple[ref.RefFn, tuple[float, ...]]] = {
    "rate": (ref.extrapolated(True, True), ()),
    "increase": (ref.extrapolated(True, False), ()),
    "delta": (ref.extrapolated(False, False), ()),
    "irate": (ref.instant_value(True), ()),
    "idelta": (ref.instant_value(False), ()),
    "deriv": (ref.deriv, ()),
    "predict_linear": (ref.predict_linear(600.0), (600.0,)),
    "resets": (ref.resets, ()),
    "changes": (ref.changes, ()),
    "sum_over_time": (ref.sum_over_time, ()),
    "avg_over_time": (ref.avg_over_time, ()),
    "min_over_time": (ref.compare_over_time(lambda a, b: a < b), ()),
    "max_over_time": (ref.compare_over_time(lambda a, b: a > b), ()),
    "count_over_time": (ref.count_over_time, ()),
    "last_over_time": (ref.last_over_time, ()),
    "stddev_over_time": (ref.variance(True), ()),
    "stdvar_over_time": (ref.variance(False), ()),
    "quantile_over_time": (ref.quantile_over_time(0.3), (0.3,)),
    "mad_over_time": (ref.mad_over_time, ()),
}

plain = st.one_of(
    st.integers(-50, 1000).map(float),
    st.integers(-(10**12), 10**12).map(lambda i: i / 1000),
)
special = st.sampled_from([math.nan, math.inf, -math.inf, 0.0])


@st.composite
def scenario(draw: st.DrawFn, with_specials: bool) -> tuple[RangeSeries, list[int], int, int]:
    n = draw(st.integers(1, 40))
    gaps = draw(st.lists(st.integers(1, 40_000), min_size=n, max_size=n))
    ts = np.cumsum(gaps).astype(np.int64)
    elem = st.one_of(plain, special) if with_specials else plain
    vals = np.array(draw(st.lists(elem, min_size=n, max_size=n)), dtype=np.float64)
    n_steps = draw(st.integers(1, 25))
    step = draw(st.integers(1, 60_000))
    start = draw(st.integers(0, int(ts[-1])))
    rng = draw(st.integers(1, 300_000))
    offset = draw(st.integers(0, 60_000))
    steps = [start + i * step for i in range(n_steps)]
    return RangeSeries(labels("m"), ts, vals), steps, rng, offset


def _close(a: float, b: float, rel: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-9 * rel / 1e-9 if b == 0 else 0.0)


def _check(s: RangeSeries, steps: list[int], rng: int, offset: int, rel: float) -> None:
    ends = [t - offset for t in steps]  # what an `offset` modifier hands the function
    rv = range_vector([s], ends, rng)
    for name, (fn, extra) in CASES.items():
        args: tuple[Value | float, ...] = (
            (*extra, rv) if name == "quantile_over_time" else (rv, *extra)
        )
        got = rows(call(name, *args, steps_ms=steps))
        vals = next(iter(got.values())) if got else [None] * len(steps)
        for j, (t, end) in enumerate(zip(steps, ends, strict=True)):
            inside = (s.timestamps > end - rng) & (s.timestamps <= end)
            window = (s.timestamps[inside].tolist(), s.values[inside].tolist())
            want = fn(window, t, end, rng)
            have = vals[j]
            ctx = f"{name} step {t} window {window}: want {want}, have {have}"
            assert (want is None) == (have is None), ctx
            if want is not None and have is not None:
                assert _close(have, want, rel), ctx


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario(with_specials=False))
def test_matches_reference_on_finite_values(case: tuple[RangeSeries, list[int], int, int]) -> None:
    _check(*case, rel=1e-9)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario(with_specials=False))
def test_prefix_sum_paths_match_reference(case: tuple[RangeSeries, list[int], int, int]) -> None:
    # Force the prefix-sum strategy even where windows barely overlap.
    old = _sums.DENSE_FACTOR, regression.PREFIX_FACTOR
    _sums.DENSE_FACTOR = regression.PREFIX_FACTOR = -1
    try:
        _check(*case, rel=1e-9)
    finally:
        _sums.DENSE_FACTOR, regression.PREFIX_FACTOR = old


@contextmanager
def _segment_sums_always() -> Iterator[None]:
    """Make deriv/predict_linear sum shared segments whenever windows are not dense."""
    old = regression.SEGMENT_COSTS
    regression.SEGMENT_COSTS = (0, 0, 0)
    try:
        yield
    finally:
        regression.SEGMENT_COSTS = old


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario(with_specials=False), st.booleans())
def test_segment_sum_path_matches_reference(
    case: tuple[RangeSeries, list[int], int, int], specials: bool
) -> None:
    s, steps, rng, offset = case
    if specials:  # non-finite windows fall back to summing their own samples
        s.values[:: max(1, len(s.values) // 3)] = math.inf
    with _segment_sums_always():
        _check(s, steps, rng, offset, rel=1e-6 if specials else 1e-9)


def test_segment_sums_agree_with_kahan_on_a_long_ill_conditioned_series() -> None:
    # 1e6-sized values with a small slope: the covariance cancels ~5 digits, so summation
    # error would show. Windows are long and overlap a few times, so the segment path runs by
    # itself; an origin a day away leaves the int64 time sums no room, so those windows fall
    # back to summing their own samples.
    gen = np.random.default_rng(7)
    n = 6000
    ts = np.arange(n, dtype=np.int64) * 15_000 + gen.integers(0, 200, n)
    vals = np.round(1e6 + 0.01 * np.arange(n) + gen.normal(0, 0.5, n), 3)
    s = RangeSeries(labels("m"), ts, vals)
    rng = 6 * 3_600_000
    ends = list(range(rng, int(ts[-1]), 3_600_000))
    rv = range_vector([s], ends, rng)
    cases = [("deriv", (), 0), ("predict_linear", (600.0,), 0)]
    cases.append(("predict_linear", (600.0,), 86_400_000))
    for name, extra, later in cases:
        evals = [e + later for e in ends]
        got = next(iter(rows(call(name, rv, *extra, steps_ms=evals)).values()))
        for end, at, have in zip(ends, evals, got, strict=True):
            inside = (ts > end - rng) & (ts <= end)
            window = (ts[inside].tolist(), vals[inside].tolist())
            want = (ref.deriv if name == "deriv" else ref.predict_linear(600.0))(
                window, at, end, rng
            )
            assert have is not None and want is not None
            assert math.isclose(have, want, rel_tol=1e-9), (name, at, have, want)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario(with_specials=True))
def test_matches_reference_with_nan_and_infinities(
    case: tuple[RangeSeries, list[int], int, int],
) -> None:
    _check(*case, rel=1e-6)
