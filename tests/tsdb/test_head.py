"""Head: appends, selection, out-of-order window, duplicates, future samples, bad labels."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from openmanager.samples import STALE_NAN, Labels, SampleBatch, SeriesMeta, make_labels
from openmanager.tsdb.head import Head
from openmanager.tsdb.matchers import Matcher, MatchType, eq
from openmanager.tsdb.storage import AppendResult
from openmanager.tsdb.wal_records import WalBatch

NOW = 1_700_000_000_000
MIN = 60_000


def _head() -> Head:
    return Head(ooo_window_ms=10 * MIN, future_tolerance_ms=10 * MIN)


def _append(head: Head, batch: SampleBatch, now: int = NOW) -> AppendResult:
    plan = head.prepare(batch, now)
    head.commit(plan)
    return plan.result


def _one(labels: Labels, ts: list[int], vals: list[float]) -> SampleBatch:
    return SampleBatch.from_series([(labels, ts, vals)])


def _raw(series: list[object], refs: list[int], ts: list[int], vals: list[float]) -> SampleBatch:
    """A batch whose series list may hold malformed label sets (as untyped input could)."""
    return SampleBatch(
        series,  # type: ignore[arg-type]
        np.asarray(refs, dtype=np.int64),
        np.asarray(ts, dtype=np.int64),
        np.asarray(vals, dtype=np.float64),
    )


A = make_labels("up", {"job": "a"})
B = make_labels("up", {"job": "b"})


def test_append_and_select_many_series(series_labels: Callable[[int], Labels]) -> None:
    head = _head()
    items = [
        (
            series_labels(i),
            NOW - np.arange(5, dtype=np.int64)[::-1] * 15_000,
            np.arange(5, dtype=np.float64) + i * 10.0,
        )
        for i in range(50)
    ]
    res = _append(
        head, SampleBatch.from_series(items, {"node_cpu_seconds_total": SeriesMeta("counter")})
    )
    assert res == AppendResult(accepted=250)
    got = head.select([eq("instance", "host-3")], NOW - 30_000, NOW)
    want = [i for i in range(50) if i % 7 == 3]
    assert [s.labels for s in got] == sorted(series_labels(i) for i in want)
    for s in got:
        i = int(dict(s.labels)["cpu"])
        assert s.timestamps.tolist() == [NOW - 30_000, NOW - 15_000, NOW]
        assert s.values.tolist() == [i * 10.0 + 2, i * 10.0 + 3, i * 10.0 + 4]
    assert head.meta["node_cpu_seconds_total"].type == "counter"
    assert head.num_series == 50 and head.num_samples == 250


def test_unsorted_batch_across_many_appends_reads_sorted() -> None:
    head = _head()
    rng = np.random.default_rng(3)
    ts = NOW - rng.permutation(400) * 1000
    for chunk in np.array_split(ts, 13):
        batch = SampleBatch([A, B], np.arange(len(chunk)) % 2, chunk, chunk.astype(float))
        # Sorting the whole stream would accept all; arrival order makes some too old.
        _append(head, batch)
    for s in head.select([eq("__name__", "up")], 0, NOW):
        assert np.all(np.diff(s.timestamps) > 0)
        assert np.array_equal(s.values, s.timestamps.astype(float))


def test_duplicates_are_idempotent_and_conflicts_counted() -> None:
    head = _head()
    assert (
        _append(head, _one(A, [NOW - 2000, NOW - 1000, NOW], [1.0, 2.0, STALE_NAN])).accepted == 3
    )
    res = _append(head, _one(A, [NOW - 1000, NOW, NOW], [2.0, STALE_NAN, STALE_NAN]))
    assert (res.accepted, res.duplicates, res.out_of_order) == (0, 3, 0)
    assert res.errors == []
    res = _append(head, _one(A, [NOW - 1000, NOW], [5.0, float("nan")]))
    assert (res.accepted, res.duplicates, res.out_of_order) == (0, 0, 2)
    assert any("duplicate sample for timestamp" in e and "up{job=" in e for e in res.errors)
    (s,) = head.select([eq("job", "a")], 0, NOW)
    assert s.values[:2].tolist() == [1.0, 2.0]
    assert s.values.view(np.uint64)[2] == np.float64(STALE_NAN).view(np.uint64)


def test_in_batch_duplicates() -> None:
    head = _head()
    res = _append(head, _one(A, [NOW, NOW, NOW, NOW - 5], [1.0, 1.0, 2.0, 3.0]))
    assert (res.accepted, res.duplicates, res.out_of_order) == (2, 1, 1)
    (s,) = head.select([eq("job", "a")], 0, NOW)
    assert s.values.tolist() == [3.0, 1.0]


def test_out_of_order_window() -> None:
    head = _head()
    _append(head, _one(A, [NOW], [1.0]))
    late = [NOW - 9 * MIN, NOW - 10 * MIN, NOW - 10 * MIN - 1, NOW - 3600_000]
    res = _append(head, _one(A, late, [9.0, 10.0, 11.0, 12.0]))
    assert (res.accepted, res.too_old, res.rejected) == (2, 2, 2)
    assert any(e.startswith("too old: up{job='a'}") for e in res.errors)
    (s,) = head.select([eq("job", "a")], 0, NOW)
    assert s.timestamps.tolist() == [NOW - 10 * MIN, NOW - 9 * MIN, NOW]
    # An out-of-order sample that is already stored is a duplicate, a different value a conflict.
    res = _append(head, _one(A, [NOW - 9 * MIN, NOW - 10 * MIN], [9.0, 0.5]))
    assert (res.accepted, res.duplicates, res.out_of_order) == (0, 1, 1)


def test_future_samples_rejected_with_message() -> None:
    head = _head()
    res = _append(head, _one(A, [NOW, NOW + 10 * MIN, NOW + 10 * MIN + 1], [1.0, 2.0, 3.0]))
    assert (res.accepted, res.too_far_in_future) == (2, 1)
    assert "too far in the future: up{job='a'}" in res.errors[0]


@pytest.mark.parametrize(
    "bad",
    [
        (("__name__", "up"), ("bad-name", "x")),
        (("__name__", "up"), ("job", float("nan"))),
        (("job", "x"),),
        (("__name__", ""), ("job", "x")),
        (("__name__", "up"), ("job", "a"), ("job", "b")),
        (("__name__", "1up"),),
        (("__name__", "up"), ("job\n", "x")),
        (("__name__", "up\n"),),
        (("__name__", "up"), "ab"),
        ((1, "x"), ("__name__", "up")),
    ],
)
def test_bad_labels_reject_only_that_series(bad: tuple[tuple[object, object], ...]) -> None:
    head = _head()
    batch = _raw([A, bad, B], [0, 1, 2, 1], [NOW, NOW, NOW, NOW - 1], [1.0, 2.0, 3.0, 4.0])
    res = _append(head, batch)
    assert (res.accepted, res.rejected_series) == (2, 1)
    assert len(res.errors) == 1 and res.errors[0].startswith("rejected series ")
    assert [s.labels for s in head.select([eq("__name__", "up")], 0, NOW)] == [A, B]


def test_unsorted_labels_are_canonicalised() -> None:
    head = _head()
    messy = (("job", "a"), ("__name__", "up"), ("empty", ""))
    _append(head, _raw([messy], [0], [NOW], [1.0]))
    _append(head, _one(A, [NOW + 1], [2.0]))
    assert head.num_series == 1
    (s,) = head.select([eq("job", "a")], 0, NOW + 1)
    assert s.labels == A and s.values.tolist() == [1.0, 2.0]


def test_error_list_is_capped() -> None:
    head = _head()
    items = [(make_labels("m", {"i": str(i)}), [NOW + 3600_000], [1.0]) for i in range(100)]
    res = _append(head, SampleBatch.from_series(items))
    assert res.too_far_in_future == 100
    assert len(res.errors) <= 21 and "more series" in res.errors[-1]


def test_delete_cut_and_gc() -> None:
    head = _head()
    ts = NOW - np.arange(10)[::-1] * MIN
    _append(head, SampleBatch.from_series([(A, ts, np.ones(10)), (B, ts[:3], np.ones(3))]))
    touched = head.delete(head.matching_refs([eq("job", "a")]), NOW - 2 * MIN, NOW)
    assert len(touched) == 1
    (sa, sb) = head.select([Matcher("job", MatchType.RE, "a|b")], 0, NOW)
    assert len(sa.timestamps) == 7 and len(sb.timestamps) == 3
    # The latest of A is now NOW-3m: a sample at NOW-2m is fresh again.
    assert _append(head, _one(A, [NOW - 2 * MIN], [5.0])).accepted == 1
    before = int(ts[5])
    cut = head.peek_before(before)
    assert len(cut.refs) == 5 + 3
    dropped = head.drop_before(before)
    assert dropped == 1  # B has nothing left and nothing recent
    assert head.num_series == 1 and head.select([eq("job", "b")], 0, NOW) == []
    assert head.label_values("job") == ["a"]
    # B comes back as a new series.
    assert _append(head, _one(B, [NOW], [1.0])).accepted == 1
    assert head.label_values("job") == ["a", "b"]


def test_snapshot_replays_to_same_state(series_labels: Callable[[int], Labels]) -> None:
    head = _head()
    items = [(series_labels(i), [NOW - 1000, NOW], [i, i + 0.5]) for i in range(30)]
    _append(head, SampleBatch.from_series(items, {"m": SeriesMeta("gauge")}))
    other = _head()
    for rec in head.snapshot(series_per_record=7, samples_per_record=11):
        assert not isinstance(rec, int)
        other.apply(rec)  # type: ignore[arg-type]
    a = head.select([eq("__name__", "node_cpu_seconds_total")], 0, NOW)
    b = other.select([eq("__name__", "node_cpu_seconds_total")], 0, NOW)
    assert [(s.labels, s.values.tolist()) for s in a] == [(s.labels, s.values.tolist()) for s in b]
    assert other.meta == head.meta


def test_series_without_stored_samples_is_not_registered() -> None:
    head = _head()
    res = _append(head, _one(A, [NOW + 3600_000], [1.0]))
    assert res.too_far_in_future == 1 and head.num_series == 0
    assert head.label_names() == []
    assert _append(head, _one(A, [NOW], [1.0])).accepted == 1 and head.num_series == 1


def test_replay_skips_samples_of_unknown_series() -> None:
    head = _head()
    known = WalBatch([(0, A)], np.array([0, 0]), np.array([NOW, NOW + 1]), np.array([1.0, 2.0]))
    assert head.apply(known, check_refs=True) == 0
    orphan = WalBatch([], np.array([0, 5, -1], dtype=np.int64), np.array([NOW + 2] * 3), np.ones(3))
    assert head.apply(orphan, check_refs=True) == 2
    (s,) = head.select([eq("job", "a")], 0, 2 * NOW)
    assert s.timestamps.tolist() == [NOW, NOW + 1, NOW + 2]
