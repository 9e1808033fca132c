"""The single-sample fast path: same result as the plain decoder, or None for other shapes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openmanager.errors import InvalidInput
from openmanager.ingest.proto import remote_pb2 as pb
from openmanager.ingest.remote_write import LabelCache, _decode_plain, decode_write_request_raw
from openmanager.ingest.remote_write_tail import decode_single_samples
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


def test_prometheus_shaped_requests_take_the_tail_path() -> None:
    raw = prometheus_shaped(2000, 250)
    got = decode_single_samples(raw, LabelCache().regions)
    assert got is not None
    assert same(got, _decode_plain(raw))
    assert len(got.series) == 250


@settings(max_examples=200, deadline=None)
@given(batches(), st.randoms(use_true_random=False))
def test_tail_path_matches_plain_path(batch: SampleBatch, rnd: object) -> None:
    order = list(range(len(batch)))
    rnd.shuffle(order)  # type: ignore[attr-defined]
    raw = one_per_sample(batch, order)
    plain = _decode_plain(raw)
    cache = LabelCache()
    try:
        got = decode_single_samples(raw, cache.regions)
    except InvalidInput:
        pytest.fail("valid labels were rejected")
    if got is not None:  # None is allowed (zero fields omitted, negative timestamps)
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
        (_series(LABELS, SAMPLE, SAMPLE), "two samples"),
        (_series(LABELS + SAMPLE, SAMPLE), "a sample between labels"),
        (_series(SAMPLE + LABELS, SAMPLE), "a sample before the labels"),
        (_series(LABELS, b"\x1a\x00", SAMPLE), "an exemplar"),
        (_series(LABELS), "no sample"),
        (_series(LABELS, SAMPLE) + b"\x1a\x02\x0a\x00", "metadata"),
    ],
)
def test_other_shapes_are_left_to_the_general_path(raw: bytes, why: str) -> None:
    cache = LabelCache()
    assert decode_single_samples(raw, cache.regions) is None, why
    assert same(decode_write_request_raw(raw, cache), _decode_plain(raw)), why


def test_bad_labels_raise_on_both_paths() -> None:
    bad = pb.TimeSeries(labels=[pb.Label(name="0bad", value="x")]).SerializeToString()
    raw = _series(bad, SAMPLE)
    cache = LabelCache()
    with pytest.raises(InvalidInput):
        decode_single_samples(raw, cache.regions)
    with pytest.raises(InvalidInput, match="invalid label name"):
        decode_write_request_raw(raw, cache)
