"""Streaming: chunked parsing equals one go; the fast path equals the exact scanner; writer round trip."""

from __future__ import annotations

import dataclasses
import io
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openmanager.errors import InvalidInput
from openmanager.ingest.exposition_parse import ParseOptions, iter_chunks, merge_chunks, parse_text
from openmanager.ingest.exposition_write import write_openmetrics
from openmanager.samples import SampleBatch, SeriesMeta, make_labels
from tests.ingest.test_exposition_parse import rows


def _history(openmetrics: bool) -> bytes:
    """A small history file: several families, a histogram, comments, odd values, a bad line."""
    out = ["# HELP cpu CPU use.", "# TYPE cpu gauge"]
    scale = 1 if openmetrics else 1000
    for s in range(3):
        out += [
            f'cpu{{server="s{s}",dc="a"}} {s * 1.25 + t / 7:.3f} {t * 15 * scale}'
            for t in range(40)
        ]
    out += ["# TYPE lat histogram"]
    for t in range(30):
        for le in ("0.1", "1", "+Inf"):
            out.append(f'lat_bucket{{le="{le}"}} {t * 2} {t * 15 * scale}')
        out += [f"lat_count {t * 2} {t * 15 * scale}", f"lat_sum {t * 0.5} {t * 15 * scale}"]
    out += ["# TYPE odd untyped" if not openmetrics else "# TYPE odd unknown"]
    out += [f"odd {v} {i * scale}" for i, v in enumerate(["NaN", "+Inf", "-Inf", "1e-300", "-0"])]
    out += [f'odd{{dc="a b"}} {i} {i * scale}' for i in range(5, 9)]  # spaces: the exact scanner
    out += ["odd{x=1} 1 1"]  # malformed: rejected in lenient mode
    if openmetrics:
        out.append("# EOF")
    return ("\n".join(out) + "\n").encode()


@pytest.mark.parametrize("openmetrics", [False, True])
@pytest.mark.parametrize(
    ("chunk_lines", "block_bytes"), [(1, 1), (7, 13), (64, 4096), (10**9, 1 << 20)]
)
def test_chunked_parse_equals_one_go(openmetrics: bool, chunk_lines: int, block_bytes: int) -> None:
    fmt = "openmetrics" if openmetrics else "text"
    data = _history(openmetrics)
    whole = parse_text(data, ParseOptions(format=fmt, strict=False))
    opts = ParseOptions(format=fmt, strict=False, chunk_lines=chunk_lines, block_bytes=block_bytes)
    chunks = list(iter_chunks(io.BytesIO(data), opts))
    assert rows(chunks) == rows(whole)
    assert [str(i) for c in chunks for i in c.issues] == [str(i) for i in whole.issues]
    assert len(whole.issues) == 1 and whole.issues[0].reason == "syntax"
    total_lines = data.count(b"\n")
    assert chunks[0].first_line == 1 and chunks[-1].last_line == total_lines
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert b.first_line == a.last_line + 1
    assert all(c.last_line - c.first_line < chunk_lines for c in chunks)
    assert chunks[-1].bytes_read == len(data)
    meta = merge_chunks(chunks).batch.metadata
    assert meta["cpu"] == SeriesMeta("gauge", "CPU use.", "")
    assert meta["lat"].type == "histogram"


_GOOD_TOKENS = st.sampled_from(["1", "2.5", "NaN", "1e3", "-1", "1700000000"])
_TOKENS = _GOOD_TOKENS | st.sampled_from(
    ["1", "-2.5", "1e3", "NaN", "nan", "+Inf", "-inf", "Infinity", "1_0", "0x10", ".5", "5.",
     "+7", "-0", "007", "1.5", "x", "", "99999999999999999999", "1e400", "-1"]
)  # fmt: skip
_SERIES = st.sampled_from(["a", 'a{x="1"}', 'b{y="2"}']) | st.sampled_from(
    ["a", 'a{x="1"}', 'a{x="1",}', 'b{y="q\\"z"}', "1bad", 'a{x="1",x="2"}', "c{ }", 'd{e=""}']
)


@st.composite
def _line(draw: st.DrawFn, tokens: int) -> str:
    """A sample line of `tokens` tokens mostly, sometimes a comment or another shape."""
    kind = draw(st.integers(0, 29))
    if kind == 0:
        return draw(st.sampled_from(["# TYPE a gauge", "# HELP b help", "", "# EOF", "#x"]))
    parts = [draw(_SERIES), draw(_TOKENS)]
    if (tokens == 3) != (kind == 1):
        parts.append(draw(_TOKENS))
    return " ".join(parts)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lines=st.integers(2, 3).flatmap(lambda k: st.lists(_line(k), min_size=1, max_size=30)),
    om=st.booleans(),
    default=st.booleans(),
)
def test_fast_path_agrees_with_exact_scanner(lines: list[str], om: bool, default: bool) -> None:
    data = ("\n".join(lines) + "\n").encode()
    opts = ParseOptions(
        format="openmetrics" if om else "text",
        strict=False,
        default_timestamp_ms=123 if default else None,
    )
    fast = parse_text(data, opts)
    slow = parse_text(data, dataclasses.replace(opts, fast_path=False))
    assert rows(fast) == rows(slow)
    assert [str(i) for i in fast.issues] == [str(i) for i in slow.issues]
    assert fast.batch.metadata == slow.batch.metadata


_LABEL_VALUES = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"), max_size=8
)


@st.composite
def _batch(draw: st.DrawFn) -> SampleBatch:
    names = draw(
        st.lists(st.sampled_from(["up", "cpu_seconds", "mem:used"]), min_size=1, max_size=3)
    )
    items = []
    seen = set()
    for i, name in enumerate(names):
        labels = make_labels(name, {"i": str(i), "v": draw(_LABEL_VALUES)})
        if labels in seen:
            continue
        seen.add(labels)
        ts = sorted(set(draw(st.lists(st.integers(0, 2**41), min_size=1, max_size=20))))
        vals = draw(st.lists(st.floats(allow_nan=True), min_size=len(ts), max_size=len(ts)))
        items.append((labels, np.array(ts, dtype=np.int64), np.array(vals, dtype=np.float64)))
    return SampleBatch.from_series(
        items, {"up": SeriesMeta("gauge", 'help "with" \\ and\nnewline')}
    )


@settings(max_examples=150, deadline=None)
@given(batch=_batch())
def test_writer_round_trip(batch: SampleBatch) -> None:
    buf = io.BytesIO()
    write_openmetrics(batch, buf)
    got = parse_text(buf.getvalue(), ParseOptions(format="openmetrics"))

    def norm(b: SampleBatch) -> list[tuple[object, int, object]]:
        return sorted(
            (b.series[r], t, "NaN" if math.isnan(v) else v.hex())
            for r, t, v in zip(
                b.series_ref.tolist(), b.timestamps.tolist(), b.values.tolist(), strict=True
            )
        )

    assert norm(got.batch) == norm(batch)
    if any(dict(s)["__name__"] == "up" for s in batch.series):
        assert got.batch.metadata["up"] == batch.metadata["up"]


@pytest.mark.parametrize("openmetrics", [False, True])
def test_history_takes_fast_path_and_agrees_with_scanner(openmetrics: bool) -> None:
    from openmanager.ingest.parse_fast import split_run

    data = _history(openmetrics)
    run = data.split(b"\n")[2:42]
    fast = split_run(b"\n".join(run), 40, openmetrics)
    assert fast is not None and len(fast.keys) == 40
    opts = ParseOptions(format="openmetrics" if openmetrics else "text", strict=False)
    slow = parse_text(data, dataclasses.replace(opts, fast_path=False))
    assert rows(parse_text(data, opts)) == rows(slow)


@settings(max_examples=200, deadline=None)
@given(
    data=st.binary(max_size=300)
    | st.text(alphabet='ab{}="\\, #\n\t.1eE+-_x', max_size=200).map(str.encode)
)
def test_arbitrary_bytes_only_ever_give_parse_errors(data: bytes) -> None:
    for fmt in ("text", "openmetrics"):
        opts = ParseOptions(format=fmt, strict=False, default_timestamp_ms=0)  # type: ignore[arg-type]
        got = parse_text(data, opts)
        assert sum(got.rejected.values()) >= len(got.issues)
        try:
            parse_text(data, dataclasses.replace(opts, strict=True))
        except InvalidInput:
            pass
