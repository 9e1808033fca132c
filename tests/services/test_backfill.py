"""Backfill service over the real embedded store in a temp dir: counts, errors, idempotence."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hst

from openmanager.config.settings import StorageSettings
from openmanager.errors import InvalidInput, NotFound
from openmanager.samples import SampleBatch, SeriesMeta, make_labels
from openmanager.services.backfill import backfill, prefetch
from openmanager.tsdb.factory import open_storage
from openmanager.tsdb.matchers import Matcher, MatchType
from openmanager.tsdb.storage import Storage

ALL = [Matcher("__name__", MatchType.RE, ".+")]
T0 = 1_704_067_200  # 2024-01-01T00:00:00Z in seconds


@pytest.fixture
def make_storage(tmp_path: Path) -> Iterator[Callable[[str], Storage]]:
    """Open real embedded stores under tmp_path (closed at teardown)."""
    opened: list[Storage] = []

    def make(name: str = "data") -> Storage:
        st = open_storage(StorageSettings(path=tmp_path / name, wal_fsync=False))
        opened.append(st)
        return st

    yield make
    for st in opened:
        st.close()


def _om_file(path: Path, bad_lines: bool = False) -> Path:
    lines = ["# TYPE cpu gauge", "# HELP cpu CPU use in percent.", "# UNIT cpu percent"]
    for s in ("a", "b"):
        lines += [f'cpu{{server="{s}"}} {i * 0.5} {T0 + 15 * i}' for i in range(100)]
    if bad_lines:
        lines.insert(10, 'cpu{server="a",server="b"} 1 1')
        lines.insert(20, 'cpu{server="c"} oops 1704067200')
    lines += ["# TYPE req counter"]
    lines += [f'req_total{{code="200"}} {i * 3} {T0 + 15 * i}' for i in range(50)]
    lines += ["# EOF"]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_backfill_stores_everything_and_reports(
    tmp_path: Path, make_storage: Callable[[str], Storage]
) -> None:
    st = make_storage("data")
    seen: list[tuple[int, int]] = []
    report = backfill(
        st, _om_file(tmp_path / "in.om"), progress=lambda d, t: seen.append((d, t)), chunk_lines=64
    )
    assert report.format == "openmetrics"
    assert (report.samples_read, report.samples_stored, report.series) == (250, 250, 3)
    assert report.rejected_total == 0 and report.errors == []
    assert report.samples_per_second > 0
    size = (tmp_path / "in.om").stat().st_size
    assert seen[-1] == (size, size) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    got = {s.labels: s for s in st.select(ALL, 0, 2**50)}
    a = got[make_labels("cpu", {"server": "a"})]
    assert a.timestamps.tolist() == [(T0 + 15 * i) * 1000 for i in range(100)]
    assert a.values.tolist() == [i * 0.5 for i in range(100)]
    meta = st.metadata()
    assert meta["cpu"] == SeriesMeta("gauge", "CPU use in percent.", "percent")
    assert meta["req_total"].type == "counter"


def test_bad_lines_are_reported_by_line_and_the_rest_kept(
    tmp_path: Path, make_storage: Callable[[str], Storage]
) -> None:
    st = make_storage("data")
    before = SampleBatch.from_series([(make_labels("old", {}), [1000, 2000], [1.0, 2.0])])
    assert st.append(before).accepted == 2
    report = backfill(st, _om_file(tmp_path / "in.om", bad_lines=True))
    assert report.samples_stored == 250
    assert report.rejected == {"duplicate_label": 1, "invalid_value": 1}
    assert report.errors == [
        'line 11:16: duplicate label "server"',
        'line 21:17: invalid value "oops"',
    ]
    old = st.select([Matcher("__name__", MatchType.EQ, "old")], 0, 10_000)
    assert old[0].values.tolist() == [1.0, 2.0]


def test_backfill_twice_is_idempotent(
    tmp_path: Path, make_storage: Callable[[str], Storage]
) -> None:
    st = make_storage("data")
    path = _om_file(tmp_path / "in.om")
    first = backfill(st, path)
    second = backfill(st, path)
    assert first.samples_stored == 250
    # Same samples again are not conflicts; what a query sees is unchanged. (Whether the engine
    # counts them as duplicates depends on whether they are still in its head: it is not asked.)
    assert second.rejected_total == 0 and second.samples_read == 250
    got = st.select(ALL, 0, 2**50)
    assert sum(len(s.timestamps) for s in got) == 250


def test_conflicting_values_are_counted_with_the_series(
    tmp_path: Path, make_storage: Callable[[str], Storage]
) -> None:
    st = make_storage("data")
    st.append(SampleBatch.from_series([(make_labels("x", {}), [5_000], [1.0])]))
    path = tmp_path / "in.prom"
    path.write_text("x 2 5000\nx 3 6000\n")
    report = backfill(st, path)
    assert report.format == "text"
    assert report.samples_stored == 1
    assert report.rejected == {"out_of_order": 1}
    assert report.errors and "x" in report.errors[0] and "5000" in report.errors[0]


def test_future_timestamps_rejected_with_line(
    tmp_path: Path, make_storage: Callable[[str], Storage]
) -> None:
    st = make_storage("data")
    path = tmp_path / "in.prom"
    path.write_text("x 1 1000\nx 2 999999999\nx 3 2000\n")
    report = backfill(st, path, max_future_ms=60_000, now_ms=lambda: 10_000)
    assert report.samples_stored == 2
    assert report.errors == ["line 2: timestamp 999999999 is more than 1m in the future"]


def test_missing_timestamps_and_missing_file(
    tmp_path: Path, make_storage: Callable[[str], Storage]
) -> None:
    st = make_storage("data")
    path = tmp_path / "scrape.prom"
    path.write_text("# TYPE up gauge\nup 1\n")
    report = backfill(st, path)
    assert report.samples_stored == 0
    assert report.errors == ["line 2: sample has no timestamp (one is required here)"]
    with pytest.raises(NotFound, match="does not exist"):
        backfill(st, tmp_path / "nope.om")


def test_nan_and_infinities_round_trip_bit_exact(
    tmp_path: Path, make_storage: Callable[[str], Storage]
) -> None:
    st = make_storage("data")
    path = tmp_path / "odd.om"
    path.write_text(f"a NaN {T0}\na +Inf {T0 + 1}\na -Inf {T0 + 2}\na -0.0 {T0 + 3}\n# EOF\n")
    backfill(st, path)
    (s,) = st.select(ALL, 0, 2**50)
    expected = np.array([np.nan, np.inf, -np.inf, -0.0])
    assert s.values.view(np.uint64).tolist() == expected.view(np.uint64).tolist()


def test_prefetch_yields_in_order_and_propagates_errors() -> None:
    assert list(prefetch(iter(range(50)), depth=2)) == list(range(50))

    def failing() -> Iterator[int]:
        yield 1
        raise InvalidInput("line 2: broken")

    got = []
    with pytest.raises(InvalidInput, match="line 2: broken"):
        for item in prefetch(failing()):
            got.append(item)
    assert got == [1]


def test_prefetch_stops_its_thread_when_the_consumer_stops() -> None:
    produced: list[int] = []

    def endless() -> Iterator[int]:
        i = 0
        while True:
            produced.append(i)
            yield i
            i += 1

    gen = prefetch(endless(), depth=1)
    assert next(gen) == 0
    gen.close()  # joins the worker; would hang if the producer ignored the stop
    assert len(produced) <= 4
    assert not any(t.name == "backfill-parse" for t in threading.enumerate())


def _histogram_om(path: Path, hosts: int, points: int, bad_at: int) -> Path:
    """Families of several kinds (a histogram's _bucket/_sum/_count among them), one bad line."""
    lines = ["# TYPE lat histogram", "# HELP lat Latency."]
    for h in range(hosts):
        for le in ("0.1", "+Inf"):
            lines += [f'lat_bucket{{h="{h}",le="{le}"}} {i} {T0 + 15 * i}' for i in range(points)]
        lines += [f'lat_sum{{h="{h}"}} {i * 0.25} {T0 + 15 * i}' for i in range(points)]
        lines += [f'lat_count{{h="{h}"}} {i} {T0 + 15 * i}' for i in range(points)]
    lines += ["# TYPE temp gauge"]
    lines += [
        f'temp{{h="{h}"}} {20 + i % 7 / 10} {T0 + 15 * i}'
        for h in range(hosts)
        for i in range(points)
    ]
    lines.insert(bad_at, 'lat_sum{h="0"} oops 1704067200')
    lines += ["# EOF"]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_parallel_parse_matches_one_reader(
    tmp_path: Path, make_storage: Callable[[str], Storage], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Worker processes on small segments (cut inside families) store exactly what one reader
    does, and name the same line numbers."""
    import openmanager.services.backfill as bf

    src = _histogram_om(tmp_path / "h.om", hosts=3, points=400, bad_at=2500)
    monkeypatch.setattr(bf, "PARALLEL_MIN_BYTES", 1)
    monkeypatch.setattr(bf, "SEGMENT_BYTES", 4096)
    checked: list[bool] = []
    real_replay = bf.replay

    def replay(*args: Any) -> Any:
        out = real_replay(*args)
        checked.append(out is not None)
        return out

    monkeypatch.setattr(bf, "replay", replay)
    st1, st2 = make_storage("one"), make_storage("two")
    one = backfill(st1, src, workers=1, chunk_lines=1000)
    two = backfill(st2, src, workers=2, chunk_lines=1000)
    assert len(checked) > 10 and all(checked)  # every segment joined up: no serial fallback
    assert one.samples_stored == two.samples_stored == 3 * 4 * 400 + 3 * 400
    assert (one.lines, one.errors, dict(one.rejected)) == (
        two.lines,
        two.errors,
        dict(two.rejected),
    )
    assert one.errors and one.errors[0].startswith("line 2501:")
    got = [st.select(ALL, 0, 2**62) for st in (st1, st2)]
    assert [s.labels for s in got[0]] == [s.labels for s in got[1]] and len(got[0]) == 15
    for x, y in zip(got[0], got[1], strict=True):
        assert x.timestamps.tolist() == y.timestamps.tolist()
        assert x.values.view(np.uint64).tolist() == y.values.view(np.uint64).tolist()
    assert st1.metadata() == st2.metadata() and st2.metadata()["lat"].type == "histogram"


def test_parallel_parse_rejects_what_follows_an_early_eof(
    tmp_path: Path, make_storage: Callable[[str], Storage], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `# EOF` in the middle of a big file ends the input for the parallel path too: the
    lines after it are rejected as content after EOF, exactly as one reader does."""
    import openmanager.services.backfill as bf

    src = _histogram_om(tmp_path / "h.om", hosts=3, points=400, bad_at=1)
    lines = src.read_text().splitlines()
    lines.insert(3000, "# EOF")
    src.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(bf, "PARALLEL_MIN_BYTES", 1)
    monkeypatch.setattr(bf, "SEGMENT_BYTES", 4096)
    one = backfill(make_storage("one"), src, workers=1, chunk_lines=1000)
    two = backfill(make_storage("two"), src, workers=2, chunk_lines=1000)
    assert one.samples_stored == two.samples_stored < 3000
    assert dict(one.rejected) == dict(two.rejected) and "after_eof" in dict(two.rejected)


def test_parallel_parse_with_hashes_inside_lines(
    tmp_path: Path, make_storage: Callable[[str], Storage], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`#` inside label values (more than the descriptor scan skips one by one) does not fool
    the segment cutter: each segment still parses behind its own family's TYPE line."""
    import openmanager.services.backfill as bf

    src = _histogram_om(tmp_path / "h.om", hosts=3, points=400, bad_at=2500)
    lines = src.read_text().splitlines()
    tagged = [f'tag_total{{h="#{i}",x="a # b"}} {i} {T0 + 15 * i}' for i in range(300)]
    at = lines.index("# TYPE temp gauge")
    lines[at:at] = ["# TYPE tag counter", *tagged]
    src.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(bf, "PARALLEL_MIN_BYTES", 1)
    monkeypatch.setattr(bf, "SEGMENT_BYTES", 4096)
    st1, st2 = make_storage("one"), make_storage("two")
    one = backfill(st1, src, workers=1, chunk_lines=1000)
    two = backfill(st2, src, workers=2, chunk_lines=1000)
    assert one.samples_stored == two.samples_stored == 3 * 4 * 400 + 3 * 400 + 300
    assert (one.errors, dict(one.rejected)) == (two.errors, dict(two.rejected))
    assert st1.metadata() == st2.metadata() and st2.metadata()["tag_total"].type == "counter"


def _family(name: str, kind: str, hosts: int, points: int, t0: int = T0) -> list[str]:
    """Sample lines of one family (histogram: buckets, count and sum) over hosts and points."""
    if kind == "histogram":
        out = []
        for h in range(hosts):
            for i in range(points):
                t = t0 + 15 * i
                out += [f'{name}_bucket{{h="{h}",le="{le}"}} {i} {t}' for le in ("1", "+Inf")]
                out += [f'{name}_count{{h="{h}"}} {i} {t}', f'{name}_sum{{h="{h}"}} {i} {t}']
        return out
    suffix = "_total" if kind == "counter" else ""
    return [
        f'{name}{suffix}{{h="{h}"}} {i} {t0 + 15 * i}' for h in range(hosts) for i in range(points)
    ]


def _head(name: str, kind: str) -> list[str]:
    return [f"# TYPE {name} {kind}", f"# HELP {name} The {name} family."]


_INVALID_FILES: dict[str, list[str]] = {
    # family `lat` split by `temp`: one reader rejects the second run of `lat`
    "interleaved": [
        *_head("lat", "histogram"),
        *_family("lat", "histogram", 2, 150),
        *_head("temp", "gauge"),
        *_family("temp", "gauge", 2, 300),
        *_family("lat", "histogram", 2, 150, T0 + 10_000),
    ],
    # a bad line between TYPE and HELP: the type in effect is still histogram
    "bad_line_in_descriptors": [
        "# TYPE lat histogram",
        "lat_sum{h=oops} 1 1",
        "# HELP lat Latency.",
        *_family("lat", "histogram", 3, 200),
    ],
    # `req_total` belongs to the counter `req` declared far above (mapped by its TYPE)
    "counter_resumed_by_suffix": [
        *_head("req", "counter"),
        *_family("req", "counter", 2, 200),
        *_head("temp", "gauge"),
        *_family("temp", "gauge", 2, 300),
        *_family("req", "counter", 2, 100, T0 + 10_000),
    ],
    # a second TYPE for a family much later, then samples
    "second_type_line": [
        *_head("temp", "gauge"),
        *_family("temp", "gauge", 2, 300),
        *_head("disk", "gauge"),
        *_family("disk", "gauge", 2, 300),
        "# TYPE temp counter",
        *_family("temp", "counter", 2, 200, T0 + 10_000),
    ],
}


@pytest.mark.parametrize("case", sorted(_INVALID_FILES))
def test_parallel_parse_matches_one_reader_on_invalid_input(
    case: str,
    tmp_path: Path,
    make_storage: Callable[[str], Storage],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On invalid input, segments cut inside families store, reject (by reason and line) and
    describe exactly what one reader does."""
    import openmanager.services.backfill as bf

    src = tmp_path / "bad.om"
    src.write_text("\n".join([*_INVALID_FILES[case], "# EOF"]) + "\n")
    monkeypatch.setattr(bf, "PARALLEL_MIN_BYTES", 1)
    monkeypatch.setattr(bf, "SEGMENT_BYTES", 4096)
    _assert_parallel_is_serial(src, make_storage)


def _assert_parallel_is_serial(
    src: Path, make_storage: Callable[[str], Storage], all_metadata: bool = True
) -> None:
    """Serial and parallel backfills of `src` report and store the same. `all_metadata=False`
    compares the metadata of stored families only: one reader, too, drops the metadata of a
    chunk with no sample stored, so that part depends on where chunks end."""
    st1, st2 = make_storage("one"), make_storage("two")
    one = backfill(st1, src, workers=1, chunk_lines=700)
    two = backfill(st2, src, workers=2, chunk_lines=700)
    assert one.rejected_total > 0  # the input really is invalid
    assert (one.lines, one.samples_stored, dict(one.rejected), one.errors) == (
        two.lines,
        two.samples_stored,
        dict(two.rejected),
        two.errors,
    )
    got = [st.select(ALL, 0, 2**62) for st in (st1, st2)]
    assert [s.labels for s in got[0]] == [s.labels for s in got[1]]
    for x, y in zip(got[0], got[1], strict=True):
        assert x.timestamps.tolist() == y.timestamps.tolist()
        assert x.values.view(np.uint64).tolist() == y.values.view(np.uint64).tolist()
    metas = [st.metadata() for st in (st1, st2)]
    if not all_metadata:
        names = {dict(s.labels)["__name__"] for s in got[0]}
        metas = [{k: v for k, v in m.items() if any(n.startswith(k) for n in names)} for m in metas]
    assert metas[0] == metas[1]


_KINDS = {"lat": "histogram", "temp": "gauge", "req": "counter"}
_blocks = hst.one_of(
    hst.tuples(hst.just("head"), hst.sampled_from(sorted(_KINDS))),
    hst.tuples(hst.just("samples"), hst.sampled_from(sorted(_KINDS)), hst.integers(1, 120)),
    hst.tuples(hst.just("bad"), hst.sampled_from(["x{h=1} 1 1", "", "# TYPE lat gauge", "# EOF"])),
)


@pytest.mark.slow
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(plan=hst.lists(_blocks, min_size=2, max_size=7))
def test_parallel_parse_is_serial_on_generated_input(
    plan: list[tuple[object, ...]],
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Families in any order, resumed, redeclared, with bad lines anywhere: parallel == serial."""
    import openmanager.services.backfill as bf

    lines: list[str] = ["# TYPE lat histogram", "# TYPE req counter"]
    for n, block in enumerate(plan):
        if block[0] == "head":
            lines += _head(str(block[1]), _KINDS[str(block[1])])
        elif block[0] == "samples":
            name = str(block[1])
            lines += _family(name, _KINDS[name], 2, int(str(block[2])), T0 + 10_000 * n)
        else:
            lines.append(str(block[1]))
    lines.append("x{h=1} 1 1")  # always at least one rejected line
    where = tmp_path_factory.mktemp("gen")
    src = where / "gen.om"
    src.write_text("\n".join([*lines, "# EOF"]) + "\n")
    monkeypatch.setattr(bf, "PARALLEL_MIN_BYTES", 1)
    monkeypatch.setattr(bf, "SEGMENT_BYTES", 2048)
    opened: list[Storage] = []

    def make(name: str) -> Storage:
        st_ = open_storage(StorageSettings(path=where / name, wal_fsync=False))
        opened.append(st_)
        return st_

    try:
        _assert_parallel_is_serial(src, make, all_metadata=False)
    finally:
        for s in opened:
            s.close()
