"""Malformed inputs: each error names its line (and column where practical) and what is wrong."""

from __future__ import annotations

import pytest

from openmanager.errors import InvalidInput
from openmanager.ingest.exposition_parse import ParseOptions, iter_chunks, parse_text
from tests.ingest.test_exposition_parse import rows

GOOD = "ok 1 1\n"
TEXT_CASES: list[tuple[str, str, str]] = [
    # (input, expected message, reason)
    ("1abc 1 1\n", 'line 1:1: invalid metric name "1abc"', "invalid_metric_name"),
    ('a{1abc="x"} 1 1\n', 'line 1:3: invalid label name "1abc"', "invalid_label_name"),
    ('a{NaN.5="x"} 1 1\n', 'line 1:3: invalid label name "NaN.5"', "invalid_label_name"),
    ('a{x-y="1"} 1 1\n', 'line 1:3: invalid label name "x-y"', "invalid_label_name"),
    ('a{="1"} 1 1\n', 'line 1:3: invalid label name "="', "invalid_label_name"),
    ('a{job="x",job="y"} 1 1\n', 'line 1:11: duplicate label "job"', "duplicate_label"),
    ('a{__name__="b"} 1 1\n', 'line 1:3: duplicate label "__name__"', "duplicate_label"),
    ("a\n", "line 1:2: expected a value after the metric", "syntax"),
    ('a{x="1"}\n', "line 1:9: expected a value after the metric", "syntax"),
    ("a 1 2 3\n", 'line 1:7: unexpected "3" after the sample', "syntax"),
    ("a x 1\n", 'line 1:3: invalid value "x"', "invalid_value"),
    ("a 1_000 1\n", 'line 1:3: invalid value "1_000"', "invalid_value"),
    ("a 1 1.5\n", 'line 1:5: invalid timestamp "1.5"', "invalid_timestamp"),
    (
        "a 1 99999999999999999999\n",
        'line 1:5: invalid timestamp "99999999999999999999"',
        "invalid_timestamp",
    ),
    ("a 1 abc\n", 'line 1:5: invalid timestamp "abc"', "invalid_timestamp"),
    ('a{x="1} 1 1\n', 'line 1:5: label value of "x" is not terminated by "', "syntax"),
    ("a{x=1} 1 1\n", 'line 1:5: expected a quoted value for label "x"', "syntax"),
    ('a{x "1"} 1 1\n', 'line 1:5: expected "=" after label name "x"', "syntax"),
    ('a{x="1" y="2"} 1 1\n', 'line 1:9: expected "," or "}" after a label value', "syntax"),
    (
        'a{x="\\t"} 1 1\n',
        'line 1:6: invalid escape sequence "\\\\t" in label value',
        "invalid_label_value",
    ),
    ('{x="1"} 1 1\n', "line 1:1: metric name missing before the label set", "invalid_metric_name"),
    ('a{x="1"}b 1 1\n', 'line 1:9: unexpected "b" after the series', "syntax"),
    ("a{x", 'line 1:4: expected "=" after label name "x"', "syntax"),
    ("a 1\n", "line 1: sample has no timestamp (one is required here)", "missing_timestamp"),
    (
        "# TYPE a nonsense\n",
        'line 1: unknown metric type "nonsense" (allowed: counter, gauge, histogram, summary, untyped)',
        "invalid_metadata",
    ),
    ("# TYPE 1a gauge\n", 'line 1:3: invalid metric name "1a" in # TYPE', "invalid_metric_name"),
    (
        "# TYPE a gauge\n# TYPE a counter\n",
        'line 2: second # TYPE line for metric "a"',
        "invalid_metadata",
    ),
    ("# HELP a x\n# HELP a y\n", 'line 2: second # HELP line for metric "a"', "invalid_metadata"),
    (
        "a 1 1\n# TYPE a gauge\n",
        'line 2: # TYPE line for metric "a" after its samples',
        "invalid_metadata",
    ),
    (b'a{x="\xff"} 1 1\n'.decode("latin-1"), "line 1:6: invalid UTF-8", "syntax"),
    ("a 1 1\r\n", 'line 1:5: invalid timestamp "1\r"', "invalid_timestamp"),
    ('a 1 1 # {x="y"} 1\n', 'line 1:7: unexpected "#" after the sample', "syntax"),
]
OM_CASES: list[tuple[str, str, str]] = [
    ("a 1 1\n", "line 2: OpenMetrics input must end with # EOF", "missing_eof"),
    ("a 1 1\n# EOF\nb 1 1\n", "line 3: content after # EOF", "after_eof"),
    ("a  1 1\n# EOF\n", "line 1:2: expected exactly one space between tokens", "syntax"),
    ("a 1 1 \n# EOF\n", "line 1:6: trailing whitespace", "syntax"),
    ("\n# EOF\n", "line 1:1: empty line (not allowed in OpenMetrics)", "syntax"),
    (
        "# random comment\n# EOF\n",
        "line 1:1: OpenMetrics allows only # HELP, # TYPE, # UNIT and # EOF",
        "syntax",
    ),
    ('a{x="1",} 1 1\n# EOF\n', "line 1:8: trailing comma in label set", "syntax"),
    ("a 1 1 # x\n# EOF\n", "line 1:9: expected a label set after the exemplar's #", "syntax"),
    (
        'a 1 1 # {x="1"}\n# EOF\n',
        "line 1:16: an exemplar needs a value and an optional timestamp",
        "syntax",
    ),
    (
        "a 1 1\nb 1 1\na 2 2\n# EOF\n",
        'line 3: samples of metric family "a" interleaved with another family (OpenMetrics keeps each family together)',
        "interleaved_family",
    ),
    (
        "# TYPE a gauge\nb 1 1\n# HELP a x\n# EOF\n",
        'line 3: metadata of metric family "a" interleaved with another family (OpenMetrics keeps each family together)',
        "interleaved_family",
    ),
    ("a 1 nan\n# EOF\n", 'line 1:5: invalid timestamp "nan"', "invalid_timestamp"),
    (
        "# TYPE a untyped\n# EOF\n",
        'line 1: unknown metric type "untyped" (allowed: counter, gauge, gaugehistogram, histogram, info, stateset, summary, unknown)',
        "invalid_metadata",
    ),
]


def _cases() -> list[tuple[str, str, str, str]]:
    return [("text", *c) for c in TEXT_CASES] + [("openmetrics", *c) for c in OM_CASES]


@pytest.mark.parametrize(("fmt", "text", "message", "reason"), _cases())
def test_strict_mode_raises_naming_the_line(fmt: str, text: str, message: str, reason: str) -> None:
    data = text.encode("latin-1") if "\xff" in text else text.encode()
    with pytest.raises(InvalidInput) as err:
        parse_text(data, ParseOptions(format=fmt, strict=True))  # type: ignore[arg-type]
    assert err.value.message == message


@pytest.mark.parametrize(
    ("fmt", "text", "message", "reason"),
    [c for c in _cases() if c[3] not in ("missing_eof", "after_eof")],
)
def test_lenient_mode_keeps_good_lines_around_a_bad_one(
    fmt: str, text: str, message: str, reason: str
) -> None:
    data = text.encode("latin-1") if "\xff" in text else text.encode()
    om = fmt == "openmetrics"
    body = data.replace(b"# EOF\n", b"") if om else data
    if not body.endswith(b"\n"):
        body += b"\n"
    last = b"zlast 2 2\n" + (b"# EOF\n" if om else b"")
    got = parse_text(b"first 1 1\n" + body + last, ParseOptions(format=fmt, strict=False))  # type: ignore[arg-type]
    line = int(message.split(":")[0].split()[1]) + 1  # shifted by the good first line
    assert reason in got.rejected
    assert any(i.line == line and i.reason == reason for i in got.issues), got.issues
    names = [dict(r[0])["__name__"] for r in rows(got)]
    assert names[0] == "first" and names[-1] == "zlast"


def test_lenient_missing_eof_keeps_the_samples() -> None:
    got = parse_text("a 1 1\nb 2 2\n", ParseOptions(format="openmetrics", strict=False))
    assert [str(i) for i in got.issues] == ["line 3: OpenMetrics input must end with # EOF"]
    assert len(got.batch) == 2


def test_lenient_content_after_eof_is_dropped_and_counted() -> None:
    got = parse_text(
        "a 1 1\n# EOF\nb 2 2\nc 3 3\n", ParseOptions(format="openmetrics", strict=False)
    )
    assert got.rejected["after_eof"] == 2
    assert [dict(r[0])["__name__"] for r in rows(got)] == ["a"]


def test_lenient_counts_every_rejection_but_caps_kept_issues() -> None:
    text = "".join(f"bad{{{i} 1 1\n" for i in range(50)) + "ok 1 1\n"
    got = parse_text(text, ParseOptions(strict=False, max_issues=5))
    assert got.rejected["invalid_label_name"] == 50
    assert len(got.issues) == 5
    assert len(got.batch) == 1


def test_bad_series_text_in_a_fast_run_is_reported_per_line() -> None:
    lines = [f'm{{s="{i % 3}"}} {i} {i}' for i in range(200)]
    lines[17] = 'm{1abc="x"} 1 1'
    lines[150] = 'm{s="1",s="2"} 1 1'
    got = parse_text("\n".join(lines) + "\n", ParseOptions(strict=False))
    assert [str(i) for i in got.issues] == [
        'line 18:3: invalid label name "1abc"',
        'line 151:9: duplicate label "s"',
    ]
    assert len(got.batch) == 198
    assert got.batch.timestamps.tolist() == [i for i in range(200) if i not in (17, 150)]


def test_strict_error_in_a_later_chunk_names_the_global_line() -> None:
    text = "".join(f"a {i} {i}\n" for i in range(1000)) + "a oops 5\n"
    with pytest.raises(InvalidInput, match=r'^line 1001:3: invalid value "oops"$'):
        list(iter_chunks(text.encode(), ParseOptions(chunk_lines=64, block_bytes=100)))


def test_overlong_line_is_rejected_without_buffering_it() -> None:
    from openmanager.ingest import exposition_parse

    big = b'a{x="' + b"y" * 200 + b'"} 1 1\nb 1 1\n'
    old = exposition_parse.MAX_LINE_BYTES
    exposition_parse.MAX_LINE_BYTES = 64
    try:
        chunks = list(iter_chunks(big, ParseOptions(strict=False, block_bytes=16)))
    finally:
        exposition_parse.MAX_LINE_BYTES = old
    got = exposition_parse.merge_chunks(chunks)
    assert [str(i) for i in got.issues] == ["line 1: line longer than 64 bytes"]
    assert [dict(r[0])["__name__"] for r in rows(got)] == ["b"]
