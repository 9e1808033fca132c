"""Remote-write codec: round trips, Prometheus-shaped requests, and malformed payloads."""

from __future__ import annotations

import importlib.util
import os
import struct
from pathlib import Path

import cramjam
import numpy as np
import pytest
from google.protobuf.message import DecodeError
from hypothesis import given, settings
from hypothesis import strategies as st

from openmanager.errors import InvalidInput
from openmanager.ingest.proto import remote_pb2 as pb
from openmanager.ingest.remote_write import (
    LabelCache,
    _decode_plain,
    decode_scanned,
    decode_write_request,
    decode_write_request_raw,
    encode_write_request,
    encode_write_request_raw,
)
from openmanager.samples import STALE_NAN_BITS, SampleBatch, SeriesMeta, make_labels

FUZZ_EXAMPLES = int(os.environ.get("OPENMANAGER_FUZZ_EXAMPLES", "100"))
PEER_ENCODER = Path("/work/shared/peers/tsdb/remote_write.py")

label_names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,8}", fullmatch=True).filter(
    lambda s: s != "__name__"
)
metric_names = st.from_regex(r"[a-zA-Z_:][a-zA-Z0-9_:]{0,12}", fullmatch=True)
label_values = st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=1, max_size=12)
float_bits = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, float("nan")]),
    st.just(STALE_NAN_BITS).map(lambda b: struct.unpack("<d", struct.pack("<Q", b))[0]),
    st.integers(0, 2**64 - 1).map(lambda b: struct.unpack("<d", struct.pack("<Q", b))[0]),
)
timestamps = st.integers(-(2**62), 2**62)


@st.composite
def batches(draw: st.DrawFn) -> SampleBatch:
    """Random batches: distinct label sets, each with distinct timestamps and any float bits."""
    n_series = draw(st.integers(0, 5))
    items = []
    seen: set[tuple[tuple[str, str], ...]] = set()
    for _ in range(n_series):
        extra = draw(st.dictionaries(label_names, label_values, max_size=4))
        labels = make_labels(draw(metric_names), extra)
        if labels in seen:
            continue
        seen.add(labels)
        ts = draw(st.lists(timestamps, min_size=1, max_size=6, unique=True))
        vs = draw(st.lists(float_bits, min_size=len(ts), max_size=len(ts)))
        items.append((labels, ts, vs))
    return SampleBatch.from_series(items)


def canonical(batch: SampleBatch) -> dict[tuple[tuple[str, str], ...], list[tuple[int, int]]]:
    """Series -> time-sorted (timestamp, value bits): what a decode must preserve."""
    out: dict[tuple[tuple[str, str], ...], list[tuple[int, int]]] = {}
    bits = batch.values.view(np.uint64)
    for i, ref in enumerate(batch.series_ref.tolist()):
        out.setdefault(batch.series[ref], []).append((int(batch.timestamps[i]), int(bits[i])))
    return {k: sorted(v) for k, v in out.items()}


def protobuf_encode(batch: SampleBatch, samples_first: bool = False) -> bytes:
    """An independent encoder: the generated protobuf classes (zero fields omitted)."""
    req = pb.WriteRequest()
    for labels, ts, vs in batch.per_series():
        series = req.timeseries.add()
        series.labels.extend(pb.Label(name=k, value=v) for k, v in labels)
        series.samples.extend(
            pb.Sample(value=float(v), timestamp=int(t)) for t, v in zip(ts, vs, strict=True)
        )
    raw = req.SerializeToString()
    if samples_first:
        # Re-encode each TimeSeries with its samples before its labels: legal, unusual.
        parts = []
        for series in req.timeseries:
            body = b"".join(
                b"\x12" + _varint(s.ByteSize()) + s.SerializeToString() for s in series.samples
            ) + b"".join(
                b"\x0a" + _varint(lb.ByteSize()) + lb.SerializeToString() for lb in series.labels
            )
            parts.append(b"\x0a" + _varint(len(body)) + body)
        raw = b"".join(parts)
    return raw


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def prometheus_shaped(n: int, n_series: int) -> bytes:
    """Like Prometheus' queue manager (and the peer benchmark): one TimeSeries per sample."""
    pack = struct.Struct("<d").pack
    out = []
    for i in range(n):
        j = i % n_series
        labels = sorted(
            [("__name__", "node_cpu_seconds_total"), ("cpu", str(j % 4)), ("instance", f"s{j}")]
        )
        lab = b"".join(
            b"\x0a"
            + _varint(
                len(
                    b := b"\x0a"
                    + _varint(len(k))
                    + k.encode()
                    + b"\x12"
                    + _varint(len(v))
                    + v.encode()
                )
            )
            + b
            for k, v in labels
        )
        smp = (
            b"\x09"
            + pack(i * 0.25)
            + b"\x10"
            + _varint(1_700_000_000_000 + (i // n_series) * 15_000)
        )
        ts = lab + b"\x12" + _varint(len(smp)) + smp
        out.append(b"\x0a" + _varint(len(ts)) + ts)
    return b"".join(out)


@settings(max_examples=100, deadline=None)
@given(batches())
def test_round_trip_is_bit_exact(batch: SampleBatch) -> None:
    decoded = decode_write_request(encode_write_request(batch), LabelCache())
    assert canonical(decoded) == canonical(batch)


@settings(max_examples=100, deadline=None)
@given(batches(), st.booleans())
def test_decodes_any_valid_encoding_alike(batch: SampleBatch, samples_first: bool) -> None:
    """Zero fields omitted, fields reordered: fast and plain paths agree with the source."""
    raw = protobuf_encode(batch, samples_first)
    assert canonical(decode_write_request_raw(raw, LabelCache())) == canonical(batch)


def test_encoder_groups_series_in_time_order() -> None:
    labels = make_labels("up", {"job": "a"})
    other = make_labels("up", {"job": "b"})
    batch = SampleBatch.from_series([(labels, [30, 20], [3.0, 2.0]), (other, [10, 5], [1.0, 0.5])])
    req = pb.WriteRequest.FromString(encode_write_request_raw(batch))
    assert len(req.timeseries) == 2
    assert [s.timestamp for s in req.timeseries[0].samples] == [20, 30]
    assert [(lb.name, lb.value) for lb in req.timeseries[1].labels] == list(other)
    assert [s.value for s in req.timeseries[1].samples] == [0.5, 1.0]


def test_prometheus_shaped_request_merges_repeated_series() -> None:
    raw = prometheus_shaped(1000, 7)
    batch = decode_write_request(bytes(cramjam.snappy.compress_raw(raw)), LabelCache())
    assert len(batch) == 1000
    assert len(batch.series) == 7
    assert batch.series[0] == make_labels("node_cpu_seconds_total", {"cpu": "0", "instance": "s0"})
    np.testing.assert_array_equal(batch.values, np.arange(1000) * 0.25)
    assert batch.timestamps[7] == 1_700_000_015_000
    assert (batch.series_ref == np.arange(1000) % 7).all()


@pytest.mark.skipif(not PEER_ENCODER.exists(), reason=f"{PEER_ENCODER} not present")
def test_decodes_the_peer_benchmark_encoder() -> None:
    spec = importlib.util.spec_from_file_location("peer_rw", PEER_ENCODER)
    assert spec is not None and spec.loader is not None
    peer = importlib.util.module_from_spec(spec)
    import sys

    sys.path.insert(0, str(PEER_ENCODER.parent))
    try:
        spec.loader.exec_module(peer)
    finally:
        sys.path.remove(str(PEER_ENCODER.parent))
    lab = peer.parse_labels("disk_used_bytes", '{instance="db-01",mount="/"}')
    raw = b""
    for i, value in enumerate([0.0, 1.5, -2.0, 1e300]):
        smp = b"\x09" + struct.pack("<d", value) + b"\x10" + peer.varint(1000 * i)
        ts = lab + b"\x12" + peer.varint(len(smp)) + smp
        raw += b"\x0a" + peer.varint(len(ts)) + ts
    batch = decode_write_request(bytes(cramjam.snappy.compress_raw(raw)), LabelCache())
    assert batch.series == [make_labels("disk_used_bytes", {"instance": "db-01", "mount": "/"})]
    assert batch.timestamps.tolist() == [0, 1000, 2000, 3000]
    assert batch.values.tolist() == [0.0, 1.5, -2.0, 1e300]


def test_metadata_round_trip() -> None:
    meta = {
        "http_requests_total": SeriesMeta("counter", "Requests served.", ""),
        "disk_used": SeriesMeta("gauge", "Bytes used.", "bytes"),
    }
    batch = SampleBatch.from_series([(make_labels("disk_used", {}), [1], [2.0])], meta)
    assert decode_write_request(encode_write_request(batch), LabelCache()).metadata == meta


def test_exemplars_and_histograms_are_ignored() -> None:
    req = pb.WriteRequest()
    series = req.timeseries.add()
    series.labels.add(name="__name__", value="rpc_seconds")
    series.samples.add(value=0.5, timestamp=10)
    series.exemplars.add(value=0.4, timestamp=9).labels.add(name="trace_id", value="abc")
    series.histograms.add(count_int=3, sum=1.0, timestamp=10)
    batch = decode_write_request_raw(req.SerializeToString(), LabelCache())
    assert batch.series == [make_labels("rpc_seconds", {})]
    assert batch.values.tolist() == [0.5]


def test_empty_request_and_series_without_samples() -> None:
    assert len(decode_write_request(bytes(cramjam.snappy.compress_raw(b"")))) == 0
    req = pb.WriteRequest()
    req.timeseries.add().labels.add(name="__name__", value="a")
    batch = decode_write_request_raw(req.SerializeToString(), LabelCache())
    assert len(batch) == 0 and batch.series == []


def _series(labels: list[tuple[str, str]]) -> bytes:
    req = pb.WriteRequest()
    ts = req.timeseries.add()
    ts.labels.extend(pb.Label(name=k, value=v) for k, v in labels)
    ts.samples.add(value=1.0, timestamp=1)
    return req.SerializeToString()


VALID = _series([("__name__", "up"), ("job", "a")])
BAD_UTF8 = VALID.replace(b"job", b"j\xffb")

MALFORMED = [
    pytest.param(b"\xff\xff\xff\xff\x0f garbage", "not a snappy block", True, id="bad-snappy"),
    pytest.param(VALID[:-3], "declares", False, id="truncated-protobuf"),
    pytest.param(b"\x0b\x01", "invalid wire type", False, id="bad-wire-type"),
    pytest.param(
        _series([("__name__", "up"), ("1job", "a")]),
        "invalid label name '1job'",
        False,
        id="label-name",
    ),
    pytest.param(
        _series([("__name__", "up"), ("a", "1"), ("a", "2")]),
        "duplicate label name 'a'",
        False,
        id="duplicate",
    ),
    pytest.param(_series([("job", "a")]), "has no metric name", False, id="no-metric-name"),
    pytest.param(
        _series([("__name__", "a-b")]), "invalid metric name 'a-b'", False, id="metric-name"
    ),
    pytest.param(BAD_UTF8, "malformed protobuf", False, id="invalid-utf8"),
]


@pytest.mark.parametrize(("payload", "message", "compressed"), MALFORMED)
def test_malformed_payloads_are_rejected_clearly(
    payload: bytes, message: str, compressed: bool
) -> None:
    body = payload if compressed else bytes(cramjam.snappy.compress_raw(payload))
    with pytest.raises(InvalidInput) as err:
        decode_write_request(body, LabelCache())
    assert message in str(err.value)
    assert err.value.status_code == 400


def test_bad_labels_are_not_cached() -> None:
    cache = LabelCache()
    bad = bytes(cramjam.snappy.compress_raw(_series([("__name__", "up"), ("1x", "a")])))
    for _ in range(2):
        with pytest.raises(InvalidInput):
            decode_write_request(bad, cache)
    assert decode_write_request(bytes(cramjam.snappy.compress_raw(VALID)), cache).series


@settings(max_examples=100, deadline=None)
@given(batches())
def test_fast_path_matches_plain_path(batch: SampleBatch) -> None:
    """The compiled scan takes usual requests and agrees with the protobuf decoder."""
    for raw in (encode_write_request_raw(batch), protobuf_encode(batch)):
        fast = decode_scanned(raw, LabelCache())
        assert fast is not None
        plain = _decode_plain(raw)
        assert fast.series == plain.series
        assert fast.series_ref.tolist() == plain.series_ref.tolist()
        assert fast.timestamps.tolist() == plain.timestamps.tolist()
        assert fast.values.view(np.uint64).tolist() == plain.values.view(np.uint64).tolist()


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid request with bytes flipped, cut, duplicated or inserted somewhere."""
    batch = draw(batches())
    raw = bytearray(
        protobuf_encode(batch) if draw(st.booleans()) else encode_write_request_raw(batch)
    )
    for _ in range(draw(st.integers(1, 4))):
        if not raw:
            break
        at = draw(st.integers(0, len(raw) - 1))
        op = draw(st.sampled_from(["flip", "cut", "insert", "dup"]))
        if op == "flip":
            raw[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "cut":
            del raw[at:]
        elif op == "insert":
            raw[at:at] = draw(st.binary(min_size=1, max_size=4))
        else:
            raw[at:at] = raw[at : at + draw(st.integers(1, 16))]
    return bytes(raw)


@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(mutated())
def test_mutated_requests_fail_cleanly_and_paths_agree(raw: bytes) -> None:
    """Fuzz: a broken request raises InvalidInput or decodes the same on both paths."""
    try:
        fast = decode_scanned(raw, LabelCache())
    except (DecodeError, InvalidInput):  # the public function then takes the plain path
        fast = None
    try:
        plain = _decode_plain(raw)
    except InvalidInput:
        assert fast is None
        with pytest.raises(InvalidInput):
            decode_write_request_raw(raw, LabelCache())
        return
    public = decode_write_request_raw(raw, LabelCache())
    for got in (public,) if fast is None else (public, fast):
        assert got.series == plain.series
        assert got.series_ref.tolist() == plain.series_ref.tolist()
        assert got.timestamps.tolist() == plain.timestamps.tolist()
        assert got.values.view(np.uint64).tolist() == plain.values.view(np.uint64).tolist()


@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(st.binary(max_size=200), st.booleans())
def test_arbitrary_bytes_never_crash(data: bytes, compress: bool) -> None:
    """Fuzz: any body either decodes or raises InvalidInput (a 400), nothing else."""
    body = bytes(cramjam.snappy.compress_raw(data)) if compress else data
    try:
        batch = decode_write_request(body, LabelCache())
    except InvalidInput:
        return
    assert len(batch.series_ref) == len(batch.timestamps) == len(batch.values)
