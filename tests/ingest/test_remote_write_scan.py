"""The compiled scan: the plain decoder's result for labels-then-samples requests, None otherwise."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openmanager.errors import InvalidInput
from openmanager.ingest import remote_write
from openmanager.ingest.proto import remote_pb2 as pb
from openmanager.ingest.proto import scan
from openmanager.ingest.remote_write import (
    LabelCache,
    _decode_plain,
    decode_scanned,
    decode_write_request_raw,
    encode_write_request_raw,
)
from openmanager.samples import SampleBatch
from tests.ingest.test_remote_write import batches, prometheus_shaped


def one_per_sample(batch: SampleBatch, shuffle: list[int] | None = None) -> bytes:
    """Encode like Prometheus's queue manager: one TimeSeries (labels + a sample) per sample."""
    req = pb.WriteRequest()
    order = shuffle if shuffle is not None else list(range(len(batch)))
    for i in order:
        ts = req.timeseries.add()
        ts.labels.extend(pb.Label(name=k, value=v) for k, v in batch.series[batch.series_ref[i]])
        ts.samples.add(value=float(batch.values[i]), timestamp=int(batch.timestamps[i]))
    return req.SerializeToString()


def same(a: SampleBatch, b: SampleBatch) -> bool:
    return (
        a.series == b.series
        and a.series_ref.tolist() == b.series_ref.tolist()
        and a.timestamps.tolist() == b.timestamps.tolist()
        and a.values.view(np.uint64).tolist() == b.values.view(np.uint64).tolist()
    )


def test_prometheus_shaped_requests_take_the_scan() -> None:
    raw = prometheus_shaped(2000, 250)
    got = decode_scanned(raw, LabelCache())
    assert got is not None
    assert same(got, _decode_plain(raw))
    assert len(got.series) == 250


@settings(max_examples=200, deadline=None)
@given(batches(), st.randoms(use_true_random=False))
def test_scan_matches_plain_path(batch: SampleBatch, rnd: object) -> None:
    order = list(range(len(batch)))
    rnd.shuffle(order)  # type: ignore[attr-defined]
    for raw in (one_per_sample(batch, order), encode_write_request_raw(batch)):
        plain = _decode_plain(raw)
        cache = LabelCache()
        try:
            got = decode_scanned(raw, cache)
        except InvalidInput:
            pytest.fail("valid labels were rejected")
        assert got is not None, "a usual request left the scan"
        assert same(got, plain)
        assert same(decode_write_request_raw(raw, cache), plain)


def _series(labels: bytes, *records: bytes) -> bytes:
    body = labels + b"".join(records)
    return b"\x0a" + bytes([len(body)]) + body


LABELS = pb.TimeSeries(labels=[pb.Label(name="__name__", value="up")]).SerializeToString()
SAMPLE = (
    b"\x12"
    + pb.Sample(value=1.0, timestamp=1234).SerializeToString().__len__().to_bytes(1, "little")
    + pb.Sample(value=1.0, timestamp=1234).SerializeToString()
)


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (_series(LABELS, SAMPLE, LABELS), "labels after a sample"),
        (_series(SAMPLE + LABELS, SAMPLE), "a sample before the labels"),
        (_series(LABELS, b"\x1a\x00", SAMPLE), "an exemplar"),
        (_series(LABELS, b"\x22\x00"), "a native histogram"),
        (_series(LABELS, SAMPLE) + b"\x12\x00", "an unknown top-level field"),
        (_series(LABELS, b"\x12\x03\x18\x01\x00"), "an unknown field in a sample"),
        (_series(LABELS, SAMPLE)[:-1], "a truncated request"),
    ],
)
def test_other_shapes_are_left_to_the_general_path(raw: bytes, why: str) -> None:
    cache = LabelCache()
    assert decode_scanned(raw, cache) is None, why
    try:
        plain = _decode_plain(raw)
    except InvalidInput:
        with pytest.raises(InvalidInput):
            decode_write_request_raw(raw, cache)
    else:
        assert same(decode_write_request_raw(raw, cache), plain), why


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (_series(LABELS, SAMPLE, SAMPLE), "two samples"),
        (_series(LABELS), "no sample"),
        (_series(LABELS, SAMPLE) + b"\x1a\x02\x0a\x00", "metadata"),
        (_series(LABELS, b"\x12\x00"), "an empty sample (value 0 at time 0)"),
        (_series(LABELS, b"\x12" + bytes([len(SAMPLE)]) + b"\x10\x01" + SAMPLE[2:]), "last wins"),
    ],
)
def test_scan_agrees_with_protobuf_on_edge_shapes(raw: bytes, why: str) -> None:
    got = decode_scanned(raw, LabelCache())
    assert got is not None, why
    assert same(got, _decode_plain(raw)), why
    assert got.metadata == _decode_plain(raw).metadata, why


def test_label_sets_sharing_a_hash_are_told_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = prometheus_shaped(20, 5)
    real = scan.scan_write_request

    def colliding(data: bytes) -> scan.Scan | None:
        got = real(data)
        assert got is not None
        got.region_hash[:] = 7  # every label set "collides"
        return got

    monkeypatch.setattr(remote_write, "scan_write_request", colliding)
    got = decode_scanned(raw, LabelCache())
    assert got is not None
    assert len(got.series) == 5
    assert same(got, _decode_plain(raw))


def test_bad_labels_raise_on_both_paths() -> None:
    bad = pb.TimeSeries(labels=[pb.Label(name="0bad", value="x")]).SerializeToString()
    raw = _series(bad, SAMPLE)
    cache = LabelCache()
    with pytest.raises(InvalidInput):
        decode_scanned(raw, cache)
    with pytest.raises(InvalidInput, match="invalid label name"):
        decode_write_request_raw(raw, cache)


def test_equal_label_sets_encoded_differently_are_one_series() -> None:
    req = pb.WriteRequest()
    for extra, t in (([], 1), ([pb.Label(name="a", value="")], 2), ([], 3)):
        ts = req.timeseries.add()
        ts.labels.extend([pb.Label(name="__name__", value="up"), *extra])
        ts.samples.add(value=1.0, timestamp=t)
    raw = req.SerializeToString()
    cache = LabelCache()
    for _ in range(2):  # a second request is served from the cache
        got = decode_scanned(raw, cache)
        assert got is not None
        assert got.series == [(("__name__", "up"),)]
        assert got.series_ref.tolist() == [0, 0, 0]
        assert same(got, _decode_plain(raw))
