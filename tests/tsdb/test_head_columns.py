"""Head sample columns (loose and packed runs) agree with a plain dict of (ref, ts) -> value."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openmanager.tsdb import head_packed
from openmanager.tsdb.head_columns import Columns
from openmanager.tsdb.head_packed import PackedRun
from openmanager.tsdb.head_run import Run, sort_run


@pytest.fixture(autouse=True)
def _pack_small_runs() -> Iterator[None]:
    """Pack runs from 4 samples up so the tests exercise packed runs without big data."""
    old = head_packed.PACK_MIN
    head_packed.PACK_MIN = 4
    yield
    head_packed.PACK_MIN = old


def _as_dict(run: Run) -> dict[tuple[int, int], float]:
    return dict(
        zip(zip(run.refs.tolist(), run.ts.tolist(), strict=True), run.values.tolist(), strict=True)
    )


def _check_sorted(run: Run) -> None:
    key = list(zip(run.refs.tolist(), run.ts.tolist(), strict=True))
    assert key == sorted(set(key))


points = st.sets(st.tuples(st.integers(0, 12), st.integers(-50, 50)), max_size=120)


@settings(max_examples=120, deadline=None)
@given(
    points=points,
    n_batches=st.integers(1, 8),
    before=st.integers(-60, 60),
    drop=st.sets(st.integers(0, 12)),
    window=st.tuples(st.integers(-60, 60), st.integers(-60, 60)),
)
def test_columns_match_dict_model(
    points: set[tuple[int, int]],
    n_batches: int,
    before: int,
    drop: set[int],
    window: tuple[int, int],
) -> None:
    pts = sorted(points)
    rng = np.random.default_rng(len(pts))
    rng.shuffle(pts)
    model: dict[tuple[int, int], float] = {}
    cols = Columns()
    for chunk in np.array_split(np.array(pts, dtype=np.int64).reshape(-1, 2), n_batches):
        vals = rng.standard_normal(len(chunk))
        cols.add(sort_run(chunk[:, 0].copy(), chunk[:, 1].copy(), vals))
        model.update(zip(map(tuple, chunk.tolist()), vals.tolist(), strict=True))
    assert len(cols) == len(model)
    span = cols.time_range()
    assert span == ((min(t for _, t in model), max(t for _, t in model)) if model else None)

    lo, hi = min(window), max(window)
    want_refs = np.array(sorted({r for r, _ in model} | {99}), dtype=np.int64)
    got = cols.gather(want_refs, lo, hi)
    _check_sorted(got)
    assert _as_dict(got) == {k: v for k, v in model.items() if lo <= k[1] <= hi}

    q = list(model)[:5] + [(3, 77)]
    found, stored = cols.lookup(
        np.array([r for r, _ in q], dtype=np.int64), np.array([t for _, t in q], dtype=np.int64)
    )
    assert found.tolist() == [k in model for k in q]
    assert [s for s, f in zip(stored.tolist(), found, strict=True) if f] == [
        model[k] for k in q if k in model
    ]

    taken, kept = cols.split(before)
    _check_sorted(taken)
    assert _as_dict(taken) == {k: v for k, v in model.items() if k[1] < before}
    cols.runs = kept
    model = {k: v for k, v in model.items() if k[1] >= before}

    touched = cols.delete(np.array(sorted(drop), dtype=np.int64), lo, hi)
    gone = {k for k in model if k[0] in drop and lo <= k[1] <= hi}
    assert touched.tolist() == sorted({r for r, _ in gone})
    model = {k: v for k, v in model.items() if k not in gone}
    assert cols.live_refs().tolist() == sorted({r for r, _ in model})
    pieces = list(cols.iter_slices(7))
    merged: dict[tuple[int, int], float] = {}
    for p in pieces:
        merged.update(_as_dict(p))
    assert merged == model


def test_packing_halves_memory_of_long_series() -> None:
    head_packed.PACK_MIN = 4096
    refs = np.repeat(np.arange(1000, dtype=np.int64), 100)
    ts = np.tile(np.arange(100, dtype=np.int64) * 15_000, 1000) + 1_700_000_000_000
    run = Run(refs, ts, np.ones(len(refs)))
    packed = PackedRun.pack(run)
    assert packed is not None
    assert packed.nbytes < 0.55 * (refs.nbytes + ts.nbytes + run.values.nbytes)
    back = packed.unpack()
    assert np.array_equal(back.refs, refs) and np.array_equal(back.ts, ts)
    # One sample per series: packing would not pay, the run stays loose.
    assert PackedRun.pack(Run(refs[::100].copy(), ts[::100].copy(), np.ones(1000))) is None
