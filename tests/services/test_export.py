"""Export service: selectors, ranges, windows, and the export -> backfill round trip."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openmanager.config.settings import StorageSettings
from openmanager.errors import InvalidInput
from openmanager.ingest.exposition_parse import ParseOptions, parse_text
from openmanager.samples import STALE_NAN, SampleBatch, SeriesMeta, make_labels
from openmanager.services.backfill import backfill
from openmanager.services.export import export_openmetrics, parse_selector
from openmanager.tsdb.factory import open_storage
from openmanager.tsdb.matchers import Matcher, MatchType
from openmanager.tsdb.storage import Series, Storage

ALL = [Matcher("__name__", MatchType.RE, ".+")]
T0 = 1_704_067_200_000
STEP = 15_000


@pytest.fixture
def make_storage(tmp_path: Path) -> Iterator[Callable[[str], Storage]]:
    """Open real embedded stores under tmp_path (closed at teardown)."""
    opened: list[Storage] = []

    def make(name: str = "data") -> Storage:
        store = open_storage(StorageSettings(path=tmp_path / name, wal_fsync=False))
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


def _fleet() -> SampleBatch:
    """Gauges, a counter and a histogram over 2 hours, with metadata as the simulator gives it."""
    ts = T0 + STEP * np.arange(480, dtype=np.int64)
    items = []
    for server in ("srv-01", "srv-02"):
        base = {"server": server, "job": "node"}
        items.append(
            (make_labels("cpu_percent", base), ts, np.round(np.sin(ts / 1e6) * 40 + 50, 2))
        )
        items.append(
            (make_labels("requests_total", base), ts, np.cumsum(np.arange(480) % 7).astype(float))
        )
        for le, share in (("0.1", 0.5), ("1", 0.9), ("+Inf", 1.0)):
            labels = make_labels("latency_seconds_bucket", {**base, "le": le})
            items.append((labels, ts, np.floor(np.arange(480) * 10 * share)))
        items.append((make_labels("latency_seconds_count", base), ts, np.arange(480) * 10.0))
        items.append((make_labels("latency_seconds_sum", base), ts, np.arange(480) * 1.25))
    meta = {
        "cpu_percent": SeriesMeta("gauge", "CPU use.", "percent"),
        "requests_total": SeriesMeta("counter", "Requests served.", ""),
        "latency_seconds": SeriesMeta("histogram", "Request latency.", "seconds"),
    }
    return SampleBatch.from_series(items, meta)


def _bits(values: np.ndarray) -> list[int]:
    """Value bits with every NaN canonical: text formats carry NaN, not its payload."""
    canon = np.where(np.isnan(values), np.float64("nan"), values)
    return [int(x) for x in canon.view(np.uint64)]


def _same(a: list[Series], b: list[Series]) -> bool:
    key = {s.labels: s for s in b}
    return len(a) == len(b) and all(
        s.labels in key
        and np.array_equal(s.timestamps, key[s.labels].timestamps)
        and _bits(s.values) == _bits(key[s.labels].values)
        for s in a
    )


def test_export_then_backfill_gives_identical_data(
    tmp_path: Path, make_storage: Callable[[str], Storage]
) -> None:
    src = make_storage("src")
    assert src.append(_fleet()).accepted == len(_fleet())
    out = tmp_path / "export.om"
    with out.open("wb") as fh:
        report = export_openmetrics(src, fh, [], 0, 2**50, window_ms=1_800_000)
    assert (report.series, report.samples, report.families) == (14, 14 * 480, 3)
    assert report.bytes == out.stat().st_size
    text = out.read_text()
    assert text.endswith("# EOF\n") and "# TYPE requests counter" in text
    dst = make_storage("dst")
    back = backfill(dst, out)
    assert back.rejected_total == 0 and back.samples_stored == report.samples
    assert _same(src.select(ALL, 0, 2**50), dst.select(ALL, 0, 2**50))
    assert dst.metadata() == src.metadata()


def test_selector_and_time_range_limit_the_export(make_storage: Callable[[str], Storage]) -> None:
    src = make_storage("src")
    src.append(_fleet())
    buf = io.BytesIO()
    matchers = parse_selector('cpu_percent{server="srv-02"}')
    report = export_openmetrics(src, buf, matchers, T0 + STEP * 10, T0 + STEP * 19)
    assert (report.series, report.samples) == (1, 10)
    got = parse_text(buf.getvalue(), ParseOptions(format="openmetrics"))
    assert got.batch.series == [make_labels("cpu_percent", {"server": "srv-02", "job": "node"})]
    assert got.batch.timestamps.tolist() == [T0 + STEP * i for i in range(10, 20)]


def test_window_size_does_not_change_the_data(make_storage: Callable[[str], Storage]) -> None:
    src = make_storage("src")
    src.append(_fleet())
    outs = []
    for window in (STEP * 7, 10**12):
        buf = io.BytesIO()
        export_openmetrics(src, buf, parse_selector('{job="node"}'), 0, 2**50, window_ms=window)
        b = parse_text(buf.getvalue(), ParseOptions(format="openmetrics")).batch
        outs.append(
            sorted(
                zip(
                    [b.series[r] for r in b.series_ref.tolist()],
                    b.timestamps.tolist(),
                    b.values.tolist(),
                    strict=True,
                )
            )
        )
    assert outs[0] == outs[1] and len(outs[0]) == len(_fleet())


def test_stale_markers_are_dropped(make_storage: Callable[[str], Storage]) -> None:
    src = make_storage("src")
    src.append(
        SampleBatch.from_series(
            [(make_labels("up", {}), [1000, 2000, 3000], [1.0, STALE_NAN, 1.0])]
        )
    )
    buf = io.BytesIO()
    report = export_openmetrics(src, buf, [], 0, 10_000)
    assert (report.samples, report.stale_dropped) == (2, 1)
    assert buf.getvalue() == b"# TYPE up unknown\nup 1 1\nup 1 3\n# EOF\n"


def test_empty_result_is_a_valid_file(make_storage: Callable[[str], Storage]) -> None:
    buf = io.BytesIO()
    report = export_openmetrics(make_storage("src"), buf, parse_selector("nothing"), 0, 10)
    assert buf.getvalue() == b"# EOF\n" and report.samples == 0


@pytest.mark.parametrize("text", ["rate(x[5m])", "x offset 5m", "x[5m]", "1 + 1", "{", ""])
def test_only_plain_selectors_are_accepted(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_selector(text)


def test_bad_range_is_rejected(make_storage: Callable[[str], Storage]) -> None:
    with pytest.raises(InvalidInput, match="before its start"):
        export_openmetrics(make_storage("src"), io.BytesIO(), [], 10, 5)


_values = st.floats(allow_nan=True, allow_infinity=True)


@settings(max_examples=12, deadline=None)
@given(
    series=st.lists(
        st.tuples(
            st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=6),
            st.lists(st.tuples(st.integers(0, 2**40), _values), min_size=1, max_size=30),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_round_trip_property(series: list[tuple[str, list[tuple[int, float]]]]) -> None:
    items = []
    for i, (value, samples) in enumerate(series):
        by_ts = dict(samples)
        ts = np.array(sorted(by_ts), dtype=np.int64)
        items.append(
            (
                make_labels("m", {"i": str(i), "v": value}),
                ts,
                np.array([by_ts[t] for t in ts.tolist()]),
            )
        )
    batch = SampleBatch.from_series(items)
    with tempfile.TemporaryDirectory() as tmp:
        src = open_storage(StorageSettings(path=Path(tmp) / "a", wal_fsync=False))
        dst = open_storage(StorageSettings(path=Path(tmp) / "b", wal_fsync=False))
        try:
            src.append(batch)
            path = Path(tmp) / "x.om"
            with path.open("wb") as fh:
                export_openmetrics(src, fh, [], 0, 2**50)
            assert backfill(dst, path).rejected_total == 0
            assert _same(src.select(ALL, 0, 2**50), dst.select(ALL, 0, 2**50))
        finally:
            src.close()
            dst.close()
