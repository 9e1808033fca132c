"""The fleet in the text format and OpenMetrics: checked by promtool and client_python's parsers."""

from __future__ import annotations

import io
import math
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from prometheus_client.parser import text_string_to_metric_families as parse_text

from openmanager.catalog import CAMELCASE_NODE_EXPORTER
from openmanager.config.settings import SimulatorSettings
from openmanager.errors import InvalidInput, NotFound
from openmanager.ingest.exposition_write import (
    OpenMetricsWriter,
    format_float,
    format_rows,
    render_batch_text,
    render_text,
    write_openmetrics,
)
from openmanager.samples import SampleBatch, SeriesMeta, make_labels
from openmanager.simulate import Simulator
from openmanager.simulate.history import write_history
from tests.helpers import require_binary
from tests.simulate.signals import START

CAMEL = re.compile(r"^(\S+) metric names should be written in 'snake_case' not 'camelCase'$")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0, "0"),
        (-0.0, "-0.0"),
        (1.5, "1.5"),
        (1e22, "1e+22"),
        (0.1 + 0.2, "0.30000000000000004"),
        (math.nan, "NaN"),
        (math.inf, "+Inf"),
        (-math.inf, "-Inf"),
        (123456789.0, "123456789"),
    ],
)
def test_format_float(value: float, text: str) -> None:
    assert format_float(value) == text
    assert format_rows(np.array([[value]]), None)[0] == (text + "\n").encode()


def test_numpy_formatting_is_shortest_and_round_trips() -> None:
    rng = np.random.default_rng(0)
    for places in range(7):
        x = np.rint(rng.uniform(-1e8, 1e8, (20, 300)) * 10**places) / 10**places
        x[0, :4] = [0.0, 0.5, -0.5, 99999999.0]
        rows = format_rows(x, np.arange(300) * 15_500 + START)
        for r, blob in enumerate(rows):
            lines = blob.decode().splitlines()
            got = [float(line.split()[0]) for line in lines]
            assert np.array_equal(got, x[r])
            assert [line.split()[0] for line in lines] == [format_float(v) for v in x[r].tolist()]
        assert rows[0].decode().splitlines()[1].split()[1] == str(START // 1000 + 15.5)


def test_text_format_passes_promtool_except_node_exporter_camelcase() -> None:
    promtool = require_binary("promtool")
    sim = Simulator(SimulatorSettings(), start_ms=START)
    batch = sim.tick(START)
    text = render_batch_text(batch)
    assert text == render_text(sim.latest(), sim.metadata)
    res = subprocess.run(
        [promtool, "check", "metrics"], input=text.encode(), capture_output=True, timeout=60
    )
    problems = [p for p in (res.stdout + res.stderr).decode().splitlines() if p.strip()]
    for line in problems:
        m = CAMEL.match(line)
        assert m and m.group(1) in CAMELCASE_NODE_EXPORTER, f"promtool: {line}"
    families = {f.name: f for f in parse_text(text)}
    assert families["http_request_duration_seconds"].type == "histogram"
    assert families["node_cpu_seconds"].type == "counter"  # client_python strips _total
    assert sum(len(f.samples) for f in families.values()) == len(batch.series)
    one = sim.exposition("db-primary-01")
    servers = {s.labels["server"] for f in parse_text(one) for s in f.samples}
    assert servers == {"db-primary-01"} and one.count("# TYPE ") == len(families)
    with pytest.raises(NotFound):
        sim.exposition("nope-01")


def test_openmetrics_history_parses_strictly(tmp_path: Path) -> None:
    # client_python 0.26 cuts a histogram after its first timestamped point, so one point here;
    # promtool (below) reads the multi-point history.
    sim = Simulator(SimulatorSettings(servers=3, faults=False), start_ms=START)
    res = write_history(sim, START, START + 15_000, tmp_path)
    text = res.openmetrics.read_text()
    assert text.endswith("# EOF\n")
    families = {f.name: f for f in parse_om(text)}  # type: ignore[no-untyped-call]
    assert families["node_cpu_seconds"].type == "counter"
    assert families["node_cpu_seconds"].unit == "seconds"
    assert families["http_request_duration_seconds"].type == "histogram"
    assert sum(len(f.samples) for f in families.values()) == res.samples == len(sim.series)
    sample = families["node_load1"].samples[0]
    assert float(sample.timestamp) == START / 1000 and sample.labels["server"] == "web-server-01"


def test_openmetrics_history_is_accepted_by_promtool(tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    sim = Simulator(SimulatorSettings(seed=2, fault_rate_scale=20.0), start_ms=START)
    res = write_history(sim, START, START + 3_600_000, tmp_path / "out")
    blocks = tmp_path / "blocks"
    run = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(res.openmetrics), str(blocks)],
        capture_output=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr.decode()
    listing = subprocess.run(
        [promtool, "tsdb", "list", str(blocks)], capture_output=True, timeout=60
    )
    rows = [line.split() for line in listing.stdout.decode().splitlines()[1:] if line.strip()]
    assert sum(int(r[4]) for r in rows) == res.samples
    assert sum(int(r[6]) for r in rows) == len(sim.series)


def test_writer_escapes_and_rejects_bad_input() -> None:
    lbl = make_labels("odd_total", {"path": 'a"b\\c\nd'})
    meta = {"odd_total": SeriesMeta("counter", 'help with \\ and "quotes"\nnewline')}
    text = render_text([(lbl, 1.0)], meta)
    assert 'path="a\\"b\\\\c\\nd"' in text
    assert '# HELP odd_total help with \\\\ and "quotes"\\nnewline' in text
    out = io.BytesIO()
    batch = SampleBatch.from_series([(lbl, [START, START + 1000], [1.0, 2.0])], dict(meta))
    assert write_openmetrics(batch, out) == 2
    om = out.getvalue().decode()
    assert om.startswith("# TYPE odd counter\n") and om.endswith("# EOF\n")
    values = [s.value for f in parse_om(om) for s in f.samples]  # type: ignore[no-untyped-call]
    assert values == [1.0, 2.0]
    with pytest.raises(InvalidInput, match="metric name"):
        render_text([(make_labels("bad-name", {}), 1.0)], {})
    with pytest.raises(InvalidInput, match="label name"):
        render_text([((("__name__", "ok"), ("bad-label", "x")), 1.0)], {})
    writer = OpenMetricsWriter(io.BytesIO())
    ts = np.array([START], dtype=np.int64)
    writer.write_family("a", SeriesMeta("gauge"), [make_labels("a", {})], ts, np.ones((1, 1)))
    writer.write_family("b", SeriesMeta("gauge"), [make_labels("b", {})], ts, np.ones((1, 1)))
    with pytest.raises(InvalidInput, match="not contiguous"):
        writer.write_family(
            "a", SeriesMeta("gauge"), [make_labels("a", {})], ts + 1, np.ones((1, 1))
        )


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.floats(allow_nan=True, allow_infinity=True),
            st.integers(-(10**17), 10**17).map(float),
            st.decimals(-(10**9), 10**9, places=3, allow_nan=False, allow_infinity=False).map(
                float
            ),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_any_float_round_trips_bit_for_bit(values: list[float]) -> None:
    x = np.array([values])
    text = format_rows(x, np.arange(len(values), dtype=np.int64) * 1001 + START)[0].decode()
    lines = text.splitlines()
    back = np.array([float(line.split()[0]) for line in lines])
    assert np.array_equal(back.view(np.uint64), x[0].view(np.uint64)) or (
        np.isnan(x[0]).any() and np.array_equal(np.isnan(back), np.isnan(x[0]))
    )
    assert [line.split()[0] for line in lines] == [format_float(v) for v in values]


def test_histogram_series_are_consistent() -> None:
    sim = Simulator(SimulatorSettings(seed=8), start_ms=START)
    frame = next(sim.frames(START, START + 3_600_000))
    buckets = frame.values[sim.layout.rows("http_request_duration_seconds_bucket")]
    n = len(sim.fleet)
    per_le = buckets.reshape(-1, n, buckets.shape[1])
    assert (np.diff(per_le, axis=0) >= 0).all(), "buckets grow with le"
    count = frame.values[sim.layout.rows("http_request_duration_seconds_count")]
    assert np.array_equal(per_le[-1], count), "+Inf bucket equals _count"
    requests = frame.values[sim.layout.rows("http_requests_total")].reshape(-1, n, buckets.shape[1])
    assert np.array_equal(requests.sum(axis=0), count), "every request is observed once"


def test_history_round_trips_through_our_parser(tmp_path: Path) -> None:
    from openmanager.ingest.exposition_parse import ParseOptions, parse_text

    def make() -> Simulator:
        sim = Simulator(SimulatorSettings(servers=3, seed=2), start_ms=START)
        sim.trigger("service_crash", server="web-server-01", at_ms=START + 60_000)
        return sim

    res = write_history(make(), START, START + 600_000, tmp_path)
    chunk = parse_text(res.openmetrics.read_bytes(), ParseOptions(format="openmetrics"))
    assert not chunk.issues and len(chunk.batch) == res.samples
    got = {lbl: (t, v) for lbl, t, v in chunk.batch.per_series()}
    want = {
        lbl: (t, v) for b in make().generate(START, START + 600_000) for lbl, t, v in b.per_series()
    }
    assert got.keys() == want.keys()
    for lbl, (t, v) in want.items():
        assert np.array_equal(got[lbl][0], t) and np.array_equal(got[lbl][1], v), lbl
    assert chunk.batch.metadata["http_request_duration_seconds"].type == "histogram"
