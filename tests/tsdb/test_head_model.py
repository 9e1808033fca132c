"""Property tests: the vectorised head agrees with a plain per-sample model of the rules."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from openmanager.samples import STALE_NAN, SampleBatch, make_labels
from openmanager.tsdb.head import Head
from openmanager.tsdb.head_run import sort_order
from openmanager.tsdb.matchers import eq

NOW = 1_000_000
WINDOW = 5
FUTURE = 3
VALUES = [1.0, 2.0, float("nan"), STALE_NAN]
LABELS = [make_labels("m", {"s": str(i)}) for i in range(3)]


def _bits(v: float) -> int:
    return int(np.float64(v).view(np.uint64))


@dataclass
class Model:
    """One sample at a time, exactly as the rules are written down."""

    stored: dict[int, dict[int, int]] = field(default_factory=lambda: {0: {}, 1: {}, 2: {}})

    def append(self, samples: list[tuple[int, int, float]]) -> dict[str, int]:
        counts = dict.fromkeys(["accepted", "duplicates", "out_of_order", "too_old", "future"], 0)
        latest = {s: max(d) if d else None for s, d in self.stored.items()}
        seen: dict[tuple[int, int], int] = {}
        accepted: list[tuple[int, int, int]] = []
        for s, t, v in sorted(samples, key=lambda x: (x[0], x[1])):  # stable, like the head
            b = _bits(v)
            if t > NOW + FUTURE:
                counts["future"] += 1
            elif (s, t) in seen:
                counts["duplicates" if seen[(s, t)] == b else "out_of_order"] += 1
            else:
                seen[(s, t)] = b
                last = latest[s]
                if last is None or t > last:
                    counts["accepted"] += 1
                    accepted.append((s, t, b))
                elif t < last - WINDOW:
                    counts["too_old"] += 1
                elif t in self.stored[s]:
                    counts["duplicates" if self.stored[s][t] == b else "out_of_order"] += 1
                else:
                    counts["accepted"] += 1
                    accepted.append((s, t, b))
        for s, t, b in accepted:
            self.stored[s][t] = b
        return counts


sample = st.tuples(st.integers(0, 2), st.integers(NOW - 20, NOW + 5), st.sampled_from(VALUES))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(sample, max_size=12), max_size=6))
def test_head_matches_model(batches: list[list[tuple[int, int, float]]]) -> None:
    head = Head(ooo_window_ms=WINDOW, future_tolerance_ms=FUTURE)
    model = Model()
    for batch in batches:
        want = model.append(batch)
        sb = SampleBatch(
            LABELS,
            np.array([s for s, _, _ in batch], dtype=np.int64),
            np.array([t for _, t, _ in batch], dtype=np.int64),
            np.array([v for _, _, v in batch], dtype=np.float64),
        )
        plan = head.prepare(sb, NOW)
        head.commit(plan)
        r = plan.result
        got = dict(
            accepted=r.accepted,
            duplicates=r.duplicates,
            out_of_order=r.out_of_order,
            too_old=r.too_old,
            future=r.too_far_in_future,
        )
        assert got == want
    for i, lbl in enumerate(LABELS):
        found = head.select([eq("s", str(i))], 0, 2 * NOW)
        content = (
            dict(
                zip(
                    found[0].timestamps.tolist(),
                    found[0].values.view(np.uint64).tolist(),
                    strict=True,
                )
            )
            if found
            else {}
        )
        assert found == [] or found[0].labels == lbl
        assert content == model.stored[i]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 1 << 40), st.integers(-(1 << 62), 1 << 62)), max_size=40),
    st.booleans(),
)
def test_sort_order_matches_lexsort(pairs: list[tuple[int, int]], small: bool) -> None:
    refs = np.array([r % 5 if small else r for r, _ in pairs], dtype=np.int64)
    ts = np.array([t % 1000 if small else t for _, t in pairs], dtype=np.int64)
    order = sort_order(refs, ts)
    got = np.arange(len(refs)) if order is None else order
    assert np.array_equal(got, np.lexsort((ts, refs)))
