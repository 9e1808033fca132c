"""Good inputs: golden expositions from real peers, timestamps, metadata, families, exemplars."""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as om_families,
)
from prometheus_client.parser import text_string_to_metric_families as text_families

from openmanager.ingest.exposition_parse import (
    ParsedChunk,
    ParseOptions,
    detect_format,
    format_for_content_type,
    parse_text,
)
from openmanager.samples import Labels, SeriesMeta, make_labels

DATA = Path(__file__).parent / "testdata"
TEXT = ParseOptions(default_timestamp_ms=1_000)
OM = ParseOptions(format="openmetrics", default_timestamp_ms=1_000)

Row = tuple[Labels, int, float | str]


def rows(chunks: ParsedChunk | Iterable[ParsedChunk]) -> list[Row]:
    """Every sample of the chunks in input order; NaN as the string 'NaN' so rows compare."""
    out: list[Row] = []
    for c in [chunks] if isinstance(chunks, ParsedChunk) else chunks:
        b = c.batch
        out.extend(
            (b.series[r], t, "NaN" if math.isnan(v) else v)
            for r, t, v in zip(
                b.series_ref.tolist(), b.timestamps.tolist(), b.values.tolist(), strict=True
            )
        )
    return out


def _peer_rows(families: Iterable[object]) -> list[Row]:
    out: list[Row] = []
    for fam in families:
        for s in fam.samples:  # type: ignore[attr-defined]
            ts = 1_000 if s.timestamp is None else round(float(s.timestamp) * 1000)
            value = "NaN" if math.isnan(s.value) else s.value
            out.append((make_labels(s.name, s.labels), ts, value))
    return out


@pytest.mark.parametrize("name", ["client_python.prom", "prometheus_2.42.prom"])
def test_text_golden_matches_client_python_parser(name: str) -> None:
    text = (DATA / name).read_text()
    got = parse_text(text, TEXT)
    assert got.issues == []
    assert rows(got) == _peer_rows(text_families(text))


def test_openmetrics_golden_matches_client_python_parser() -> None:
    text = (DATA / "client_python.om").read_text()
    got = parse_text(text, OM)
    assert got.issues == []
    assert rows(got) == _peer_rows(om_families(text))


def test_openmetrics_metadata_keyed_by_text_family() -> None:
    meta = parse_text((DATA / "client_python.om").read_bytes(), OM).batch.metadata
    assert meta["http_requests_total"] == SeriesMeta(
        "counter", "Requests served.\nSecond line with \\ backslash.", ""
    )
    assert meta["temperature_celsius"] == SeriesMeta("gauge", "Current temperature.", "celsius")
    assert meta["request_latency_seconds"].type == "histogram"
    assert meta["payload_bytes"].type == "summary"
    assert meta["build"].type == "info"
    assert meta["state"].type == "stateset"


def test_text_metadata_and_untyped() -> None:
    text = "# HELP a_total Things.\n# TYPE a_total counter\na_total 1\n# TYPE b untyped\nb 2\n"
    meta = parse_text(text, TEXT).batch.metadata
    assert meta == {"a_total": SeriesMeta("counter", "Things.", ""), "b": SeriesMeta("unknown")}


def test_timestamps_text_ms_and_openmetrics_seconds() -> None:
    text = parse_text("a 1 1700000000123\na 2 -5\n", TEXT)
    assert rows(text) == [
        (make_labels("a", {}), 1700000000123, 1.0),
        (make_labels("a", {}), -5, 2.0),
    ]
    om = parse_text("a 1 1700000000.123\na 2 1700000001\na 3 1.7e9\n# EOF\n", OM)
    assert [r[1] for r in rows(om)] == [1700000000123, 1700000001000, 1700000000000]


def test_values_special_and_exponent_forms() -> None:
    text = "a NaN 1\nb +Inf 1\nc -Inf 1\nd 1.5e-3 1\ne -2E+2 1\nf 0x1p3 1\n"
    got = parse_text(text, ParseOptions(strict=False))
    assert [r[2] for r in rows(got)] == ["NaN", math.inf, -math.inf, 0.0015, -200.0]
    assert [i.line for i in got.issues] == [6]


def test_label_escapes_and_empty_values() -> None:
    text = 'a{x="q\\"uote",y="back\\\\slash",z="new\\nline",e=""} 1 5\n'
    ((labels, _, _),) = rows(parse_text(text, TEXT))
    assert labels == (("__name__", "a"), ("x", 'q"uote'), ("y", "back\\slash"), ("z", "new\nline"))


def test_text_format_tolerates_blanks_tabs_comments_and_empty_lines() -> None:
    text = '# a comment\n\n  a{ x = "1" , }\t 3 \t 7 \n# TYPE b gauge\nb 4 8\n'
    got = parse_text(text, TEXT)
    assert got.issues == []
    assert rows(got) == [(make_labels("a", {"x": "1"}), 7, 3.0), (make_labels("b", {}), 8, 4.0)]


def test_exemplars_are_ignored() -> None:
    text = (
        "# TYPE h histogram\n"
        'h_bucket{le="1"} 3 1 # {trace_id="a b"} 0.5 0.9\n'
        'h_bucket{le="+Inf"} 4 1 # {} 2\n'
        "h_count 4 1\nh_sum 5 1\n# EOF\n"
    )
    got = parse_text(text, OM)
    assert got.issues == []
    assert [r[2] for r in rows(got)] == [3.0, 4.0, 4.0, 5.0]


def test_default_timestamp_applies_to_lines_without_one() -> None:
    got = parse_text("a 1\nb 2 99\n", ParseOptions(default_timestamp_ms=42))
    assert [r[1] for r in rows(got)] == [42, 99]


def test_series_identity_is_canonical() -> None:
    got = parse_text('a{y="2",x="1"} 1 1\na{x="1",y="2"} 2 2\na{x="1",y="2",} 3 3\n', TEXT)
    assert len(got.batch.series) == 1
    assert got.batch.series_ref.tolist() == [0, 0, 0]


def test_future_timestamp_rejected_only_past_tolerance() -> None:
    opts = ParseOptions(strict=False, max_future_ms=600_000, now_ms=lambda: 1_000_000)
    got = parse_text("a 1 1600000\na 2 1600001\n", opts)
    assert [r[1] for r in rows(got)] == [1600000]
    assert [str(i) for i in got.issues] == [
        "line 2: timestamp 1600001 is more than 10m in the future"
    ]


def test_detect_format(tmp_path: Path) -> None:
    om = tmp_path / "x.data"
    om.write_bytes(b"a 1 1\n# EOF\n")
    text = tmp_path / "y.data"
    text.write_bytes(b"a 1 1\n")
    assert detect_format(om) == "openmetrics"
    assert detect_format(text) == "text"
    assert detect_format(tmp_path / "z.om") == "openmetrics"
    assert detect_format(tmp_path / "z.prom") == "text"


@pytest.mark.parametrize(
    ("content_type", "fmt"),
    [
        ("application/openmetrics-text; version=1.0.0; charset=utf-8", "openmetrics"),
        ("Application/OpenMetrics-Text", "openmetrics"),
        ("text/plain; version=0.0.4; charset=utf-8", "text"),
        ("", "text"),
        (None, "text"),
    ],
)
def test_format_for_content_type(content_type: str | None, fmt: str) -> None:
    assert format_for_content_type(content_type) == fmt


def test_empty_input_gives_one_empty_chunk() -> None:
    got = parse_text(b"", TEXT)
    assert len(got.batch) == 0 and got.issues == []
    assert isinstance(got.batch.values, np.ndarray)
