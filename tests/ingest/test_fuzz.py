"""Time-budgeted fuzzing of the exposition parser, the remote-write decoder and the receiver.

Each target runs hypothesis in rounds until its budget is spent: `OPENMANAGER_FUZZ_SECONDS`
per target (default 5; set e.g. 300 for the long local run). Bad input may only ever give
`InvalidInput` (a parse error / HTTP 400), never another exception, a hang (every example
must finish within `HANG_S`) or a change to what is already stored. Figures are printed
(`pytest -s`): examples run and seconds per target.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cramjam
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openmanager.errors import InvalidInput
from openmanager.ingest.exposition_parse import ParseOptions, parse_text
from openmanager.ingest.remote_write import (
    HEADERS,
    LabelCache,
    _decode_plain,
    decode_write_request,
    decode_write_request_raw,
    encode_write_request,
)
from openmanager.samples import SampleBatch, make_labels
from openmanager.tsdb.matchers import eq
from tests.api import conftest as api_conftest
from tests.api.conftest import MakeClient
from tests.ingest.test_remote_write import batches, mutated
from tests.ingest.test_remote_write_scan import one_per_sample

pytestmark = pytest.mark.slow
make_client = api_conftest.make_client  # the app factory fixture, shared with tests/api

BUDGET_S = float(os.environ.get("OPENMANAGER_FUZZ_SECONDS", "5"))
HANG_S = 10.0
TESTDATA = Path(__file__).parent / "testdata"
SEEDS = [
    (TESTDATA / name).read_bytes()
    for name in ("prometheus_2.42.prom", "client_python.prom", "client_python.om")
]
SYNTAX = b'ab_:{}="\\, #\n\t.01eE+-xNaInf' + b"# TYPE # HELP # UNIT # EOF counter gauge"


@st.composite
def expositions(draw: st.DrawFn) -> bytes:
    """A slice of a real exposition with bytes flipped, cut, duplicated or inserted."""
    seed = draw(st.sampled_from(SEEDS))
    lines = seed.split(b"\n")
    lo = draw(st.integers(0, len(lines) - 1))
    text = bytearray(b"\n".join(lines[lo : lo + draw(st.integers(1, 40))]))
    for _ in range(draw(st.integers(0, 6))):
        at = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["flip", "cut", "insert", "dup", "syntax"]))
        if op == "flip" and at < len(text):
            text[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "cut":
            del text[at : at + draw(st.integers(1, 8))]
        elif op == "insert":
            text[at:at] = draw(st.binary(min_size=1, max_size=6))
        elif op == "dup":
            text[at:at] = text[at : at + draw(st.integers(1, 32))]
        else:
            text[at:at] = bytes(draw(st.lists(st.sampled_from(SYNTAX), min_size=1, max_size=4)))
    return bytes(text)


@st.composite
def mutated_single(draw: st.DrawFn) -> bytes:
    """A Prometheus-shaped request (one TimeSeries per sample) with a few bytes changed."""
    raw = bytearray(one_per_sample(draw(batches())))
    for _ in range(draw(st.integers(0, 3))):
        if not raw:
            break
        at = draw(st.integers(0, len(raw) - 1))
        op = draw(st.sampled_from(["flip", "cut", "insert"]))
        if op == "flip":
            raw[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "cut":
            del raw[at : at + draw(st.integers(1, 12))]
        else:
            raw[at:at] = draw(st.binary(min_size=1, max_size=4))
    return bytes(raw)


def _fuzz(name: str, strategy: st.SearchStrategy[Any], check: Callable[[Any], None]) -> int:
    """Run `check` on generated inputs in rounds until the budget is spent; examples run."""
    count = 0
    slowest = 0.0

    @settings(
        max_examples=50,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def one(value: Any) -> None:
        nonlocal count, slowest
        started = time.perf_counter()
        check(value)
        took = time.perf_counter() - started
        slowest = max(slowest, took)
        assert took < HANG_S, f"{name}: one input took {took:.1f}s"
        count += 1

    started = time.monotonic()
    while time.monotonic() - started < BUDGET_S:
        one()
    spent = time.monotonic() - started
    print(f"\nfuzz {name}: {count} examples in {spent:.0f}s, slowest {slowest * 1000:.0f} ms")
    return count


def _parse_exposition(data: bytes) -> None:
    for fmt in ("text", "openmetrics"):
        lenient = ParseOptions(format=fmt, strict=False, default_timestamp_ms=0)  # type: ignore[arg-type]
        got = parse_text(data, lenient)
        assert len(got.batch.series_ref) == len(got.batch.timestamps) == len(got.batch.values)
        assert sum(got.rejected.values()) >= len(got.issues)
        for issue in got.issues:
            assert issue.line >= 1 and issue.message, issue
        try:
            strict = parse_text(data, dataclasses.replace(lenient, strict=True))
        except InvalidInput as exc:
            assert "line" in exc.message, exc.message  # errors name the line
            continue
        assert not got.issues  # strict accepted it, so lenient found nothing wrong either
        assert strict.batch.series == got.batch.series
        assert strict.batch.values.view(np.uint64).tolist() == (
            got.batch.values.view(np.uint64).tolist()
        )


def _decode(raw: bytes) -> None:
    try:
        plain: SampleBatch | None = _decode_plain(raw)
    except InvalidInput:
        plain = None
    for body in (raw, bytes(cramjam.snappy.compress_raw(raw))):
        try:
            got = (
                decode_write_request(body, LabelCache())
                if body is not raw
                else decode_write_request_raw(body, LabelCache())
            )
        except InvalidInput:
            assert plain is None
            continue
        assert plain is not None
        assert got.series == plain.series
        assert got.timestamps.tolist() == plain.timestamps.tolist()
        assert got.values.view(np.uint64).tolist() == plain.values.view(np.uint64).tolist()


def test_fuzz_exposition_parser() -> None:
    """Mutated real expositions and raw bytes: a batch or a parse error naming the line."""
    assert _fuzz("exposition", expositions() | st.binary(max_size=300), _parse_exposition) > 0


def test_fuzz_remote_write_decoder() -> None:
    """Mutated requests and raw bytes: decoded alike on every path, or InvalidInput."""
    assert (
        _fuzz(
            "remote-write decoder", mutated() | mutated_single() | st.binary(max_size=300), _decode
        )
        > 0
    )


def test_fuzz_receiver_keeps_what_is_stored(make_client: MakeClient) -> None:
    """Over HTTP: every body gets 204 or 400 (with a reason); stored samples never change."""
    client = make_client(simulator={"enabled": False})
    storage = client.app.state.platform.storage
    now = int(time.time() * 1000)
    keep = SampleBatch.from_series(
        [(make_labels("fuzz_keep", {"job": "fuzz"}), [now - 1000, now], [1.5, 2.5])]
    )
    seeded = client.post("/api/v1/write", content=encode_write_request(keep), headers=HEADERS)
    assert seeded.status_code == 204

    def post(raw: bytes) -> None:
        resp = client.post(
            "/api/v1/write", content=bytes(cramjam.snappy.compress_raw(raw)), headers=HEADERS
        )
        assert resp.status_code in (204, 400), (resp.status_code, resp.text)
        if resp.status_code == 400:
            assert resp.text.strip()
        (series,) = storage.select([eq("__name__", "fuzz_keep")], 0, 2**62)
        assert series.timestamps.tolist() == [now - 1000, now]
        assert series.values.tolist() == [1.5, 2.5]

    assert _fuzz("receiver", mutated() | mutated_single(), post) > 0
