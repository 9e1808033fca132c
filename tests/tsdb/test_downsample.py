"""Downsampling: rollups equal a direct per-window computation; tiers built by the store."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openmanager.samples import STALE_NAN, SeriesMeta, is_stale, make_labels
from openmanager.tsdb.blockstore import BlockStore
from openmanager.tsdb.downsample import (
    INCREASE,
    SUM,
    best_resolution,
    decimal_places,
    is_counter,
    rollup_coarser,
    rollup_raw,
)
from openmanager.tsdb.matchers import eq

HOUR = 3_600_000
MIN_MS = 60_000


def reference(
    ts: np.ndarray, vs: np.ndarray, res: int, counter: bool, prev: float | None = None
) -> dict[int, list[float]]:
    """Window end -> [min, max, sum, count, last, increase], one window at a time."""
    keep = ~is_stale(vs)
    ts, vs = ts[keep], vs[keep]
    inc = np.zeros(len(vs))
    last_val = prev
    for i, v in enumerate(vs):
        if np.isnan(v):
            continue
        if last_val is not None:
            inc[i] = v if v < last_val else v - last_val
        last_val = v
    out: dict[int, list[float]] = {}
    for e in sorted({int(-((-t) // res) * res) for t in ts}):
        m = (ts > e - res) & (ts <= e)
        w = vs[m]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            lo, hi = np.nanmin(w), np.nanmax(w)
        out[e] = [lo, hi, float(np.sum(w)), float(len(w)), float(w[-1])]
        out[e].append(float(inc[m].sum()) if counter else np.nan)
    return out


def assert_matches(ends: np.ndarray, cols: np.ndarray, ref: dict[int, list[float]]) -> None:
    assert list(ends) == list(ref)
    want = np.array([ref[e] for e in ref]).T
    np.testing.assert_allclose(cols, want, rtol=1e-12, atol=1e-9, equal_nan=True)


def test_rollup_equals_direct_computation() -> None:
    rng = np.random.default_rng(7)
    ts = np.unique(rng.integers(-HOUR, 5 * HOUR, 3000)).astype(np.int64)
    vs = rng.normal(100, 20, len(ts))
    vs[rng.integers(0, len(ts), 40)] = np.nan
    vs[rng.integers(0, len(ts), 40)] = STALE_NAN
    for res in (MIN_MS, 5 * MIN_MS, HOUR):
        ends, cols = rollup_raw(ts, vs, res, counter=False)
        assert_matches(ends, cols, reference(ts, vs, res, counter=False))
        assert np.all(np.isnan(cols[INCREASE]))


def test_counter_increase_is_reset_aware() -> None:
    ts = np.arange(0, 40 * 15_000, 15_000, dtype=np.int64) + 1
    vs = np.concatenate([np.arange(20.0) * 10, np.arange(20.0) * 3 + 1])  # reset at index 20
    vs[5] = STALE_NAN
    ends, cols = rollup_raw(ts, vs, MIN_MS, counter=True, prev_value=-5.0)
    assert_matches(ends, cols, reference(ts, vs, MIN_MS, counter=True, prev=-5.0))
    total = cols[INCREASE].sum()
    assert total == (190 + 5) + 1 + 19 * 3  # up to 190, reset to 1, then +57


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 200_000), st.floats(-1e6, 1e6, allow_nan=False)),
        min_size=1,
        max_size=300,
    ),
    st.sampled_from([MIN_MS, 5 * MIN_MS]),
)
def test_rollup_property(steps: list[tuple[int, float]], res: int) -> None:
    ts = np.cumsum([s for s, _ in steps]).astype(np.int64)
    vs = np.array([v for _, v in steps])
    ends, cols = rollup_raw(ts, vs, res, counter=True)
    assert_matches(ends, cols, reference(ts, vs, res, counter=True))


def test_coarser_tiers_equal_direct_rollups() -> None:
    rng = np.random.default_rng(3)
    ts = np.unique(rng.integers(0, 6 * HOUR, 5000)).astype(np.int64)
    vs = np.cumsum(rng.exponential(5, len(ts)))
    vs[2000:] -= vs[2000]  # a counter reset
    vs[rng.integers(0, len(ts), 30)] = np.nan
    fine_ends, fine = rollup_raw(ts, vs, MIN_MS, counter=True)
    for res in (5 * MIN_MS, HOUR):
        ends, cols = rollup_coarser(fine_ends, fine, res)
        direct_ends, direct = rollup_raw(ts, vs, res, counter=True)
        np.testing.assert_array_equal(ends, direct_ends)
        np.testing.assert_allclose(cols, direct, rtol=1e-12, equal_nan=True)


def test_is_counter() -> None:
    meta = {
        "http_requests": SeriesMeta("counter"),
        "lat": SeriesMeta("histogram"),
        "temp": SeriesMeta("gauge"),
        "odd_total": SeriesMeta("gauge"),
    }
    assert is_counter(make_labels("http_requests_total", {}), meta)
    assert is_counter(make_labels("lat_bucket", {"le": "1"}), meta)
    assert is_counter(make_labels("lat_count", {}), meta)
    assert not is_counter(make_labels("temp", {}), meta)
    assert not is_counter(make_labels("odd_total", {}), meta)
    assert is_counter(make_labels("no_meta_total", {}), {})
    assert not is_counter(make_labels("no_meta", {}), {})


def test_best_resolution() -> None:
    cov = {MIN_MS: (0, 10 * HOUR), 5 * MIN_MS: (0, 10 * HOUR), HOUR: (HOUR, 10 * HOUR)}
    assert best_resolution(0, 10 * HOUR, 30_000, cov) == 0  # step finer than any tier
    assert best_resolution(0, 10 * HOUR, 2 * MIN_MS, cov) == MIN_MS
    assert best_resolution(0, 10 * HOUR, 2 * HOUR, cov) == HOUR
    assert best_resolution(0, 11 * HOUR, 2 * HOUR, cov) == 0  # not rolled up that far
    assert best_resolution(-5 * MIN_MS, 5 * HOUR, 2 * HOUR, cov) == 5 * MIN_MS


def _fill(
    store: BlockStore, hours: int, late: bool = False
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(11)
    data: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for k in range(hours // 2):
        ts = np.arange(k * 2 * HOUR, (k + 1) * 2 * HOUR, 15_000, dtype=np.int64)
        gauge = np.round(rng.normal(50, 10, len(ts)), 2)
        counter = np.cumsum(rng.poisson(3, len(ts))).astype(float) + k * 1000
        batch = [
            (make_labels("cpu", {"host": "a"}), ts, gauge),
            (make_labels("req_total", {"host": "a"}), ts, counter),
        ]
        store.add_block(batch, {"cpu": SeriesMeta("gauge")})
        for lbl, t, v in batch:
            name = dict(lbl)["__name__"]
            old = data.get(name, (np.zeros(0, dtype=np.int64), np.zeros(0)))
            data[name] = (np.concatenate([old[0], t]), np.concatenate([old[1], v]))
    return data


def test_store_builds_tiers_equal_to_direct_computation(tmp_path: Path) -> None:
    store = BlockStore(tmp_path, {}, now_ms=lambda: 0)
    data = _fill(store, 24)
    report = store.maintain(now_ms=24 * HOUR)
    # (-6h,0], (0,6h], (6h,12h], (12h,18h]; (18h,24h] waits for newer data (or settle time)
    assert report.periods_rolled_up == 4
    assert store.coverage()[MIN_MS] == (0, 18 * HOUR)
    until = store.coverage()[HOUR]
    assert until is not None
    for res in (MIN_MS, 5 * MIN_MS, HOUR):
        for name, counter in (("cpu", False), ("req_total", True)):
            (rs,) = store.select_rollup([eq("__name__", name)], -HOUR, 24 * HOUR, res)
            ts, vs = data[name]
            ref = reference(ts, vs, res, counter)
            ref = {e: v for e, v in ref.items() if e <= until[1]}
            cols = np.vstack(
                [
                    rs.min,
                    rs.max,
                    rs.sum,
                    rs.count,
                    rs.last,
                    rs.increase if rs.increase is not None else np.full(len(rs.min), np.nan),
                ]
            )
            assert_matches(rs.timestamps, cols, ref)
            assert (rs.increase is None) == (not counter)
    with pytest.raises(Exception, match="no tier"):
        store.select_rollup([], 0, 1, 123)


def test_late_block_recomputes_its_period(tmp_path: Path) -> None:
    store = BlockStore(tmp_path, {}, now_ms=lambda: 0)
    _fill(store, 14)
    store.maintain(now_ms=0)
    (before,) = store.select_rollup([eq("__name__", "cpu")], 0, 6 * HOUR, HOUR)
    late_ts = np.array([3 * HOUR + 1], dtype=np.int64)
    store.add_block([(make_labels("cpu", {"host": "a"}), late_ts, np.array([1e9]))], {})
    store.close()
    reopened = BlockStore(tmp_path, {}, now_ms=lambda: 0)  # the dirty mark is durable
    report = reopened.maintain(now_ms=0)
    assert report.periods_rolled_up >= 1
    (after,) = reopened.select_rollup([eq("__name__", "cpu")], 0, 6 * HOUR, HOUR)
    i = int(np.searchsorted(after.timestamps, 4 * HOUR))
    assert after.max[i] == 1e9 and after.count[i] == before.count[i] + 1
    np.testing.assert_array_equal(np.delete(after.max, i), np.delete(before.max, i))
    assert all(len(reopened.blocks(t)) >= 1 for t in ("1m", "5m", "1h"))


def test_periods_skip_gaps_without_data(tmp_path: Path) -> None:
    forever = {"raw": 0, "1m": 0, "5m": 0, "1h": 0}
    store = BlockStore(tmp_path, forever, now_ms=lambda: 0)
    for start in (0, 1000 * 24 * HOUR):  # ~3 years apart
        ts = np.arange(start, start + 2 * HOUR, 60_000, dtype=np.int64)
        store.add_block([(make_labels("m", {}), ts, np.ones(len(ts)))], {})
    report = store.maintain(now_ms=1001 * 24 * HOUR)
    assert report.periods_rolled_up == 4  # two periods around each block, none in the gap
    (rs,) = store.select_rollup([], 0, 2000 * 24 * HOUR, HOUR)
    assert rs.count.sum() == 240


def test_sums_of_decimals_are_exact_decimals() -> None:
    ts = np.array([1, 2, 3, 61_000, 62_000, 121_000, 122_000], dtype=np.int64)
    vs = np.array([0.1, 0.2, 0.3, 13.35, 13.38, np.inf, 1.5])
    ends, cols = rollup_raw(ts, vs, MIN_MS, counter=False)
    assert list(cols[SUM]) == [0.6, 26.73, np.inf]  # float accumulation gives 0.6000000000000001
    assert 0.1 + 0.2 + 0.3 != 0.6
    coarse_ends, coarse = rollup_coarser(ends, cols, 5 * MIN_MS)
    assert coarse[SUM][0] == np.inf
    # values without a short decimal form keep the plain float sum, bit for bit
    rng = np.random.default_rng(5)
    noisy = rng.normal(size=400)
    t = (np.arange(400, dtype=np.int64) + 1) * 1000  # windows (0, 60s], (60s, 120s], ...
    _, ncols = rollup_raw(t, noisy, MIN_MS, counter=False)
    starts = np.arange(0, 400, 60)
    np.testing.assert_array_equal(ncols[SUM], np.add.reduceat(noisy, starts))


def test_decimal_places() -> None:
    assert decimal_places(np.array([1.0, 2.0, np.nan])) == 0
    assert decimal_places(np.array([1.25, 2.5, -np.inf])) == 2
    assert decimal_places(np.array([0.1234567])) is None
    assert decimal_places(np.array([1e300])) is None
    assert decimal_places(np.zeros(0)) == 0
