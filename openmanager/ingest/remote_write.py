"""Prometheus remote-write 1.0: `WriteRequest` protobuf in a snappy block, encoded and decoded.

The encoder groups each series with its samples in time order. The decoder turns any valid
request into a `SampleBatch`: requests shaped as clients send them (each TimeSeries its labels,
then samples; Prometheus's queue manager sends one sample per TimeSeries) take a compiled
one-pass scan (`proto/scan.py`), anything else the plain protobuf path. Exemplars and
native histograms parse but are ignored. Stale markers and NaN payloads pass bit-exactly.
Labels follow Prometheus 2.x rules (classic names, no duplicates, a metric name; empty values
dropped); a `LabelCache` remembers validated label encodings across requests.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import cast

import cramjam
import numpy as np
from google.protobuf.message import DecodeError

from openmanager.errors import InvalidInput
from openmanager.ingest.proto import remote_pb2 as pb
from openmanager.ingest.proto import wire
from openmanager.ingest.proto.scan import distinct_regions, scan_write_request
from openmanager.samples import (
    METRIC_NAME,
    Float64Array,
    Int64Array,
    Labels,
    SampleBatch,
    SeriesMeta,
    format_labels,
)

HEADERS = {
    "Content-Encoding": "snappy",
    "Content-Type": "application/x-protobuf",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
}
"""HTTP headers a remote-write 1.0 sender sets."""

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_TYPE_NAMES = {v: k.lower() for k, v in pb.MetricMetadata.MetricType.items()}
_TYPE_VALUES = {k.lower(): v for k, v in pb.MetricMetadata.MetricType.items()}


def encode_write_request(batch: SampleBatch) -> bytes:
    """Snappy-compressed `WriteRequest`: one TimeSeries per series, samples in time order."""
    return bytes(cramjam.snappy.compress_raw(encode_write_request_raw(batch)))


def encode_write_request_raw(batch: SampleBatch) -> bytes:
    """The uncompressed protobuf bytes of `encode_write_request`."""
    parts: list[bytes] = []
    if len(batch):
        order = np.lexsort((batch.timestamps, batch.series_ref))
        refs = batch.series_ref[order]
        records = _sample_records(batch.timestamps[order], batch.values[order])
        sizes = np.bincount(refs, minlength=len(batch.series))
        row_bounds = np.concatenate(([0], np.cumsum(sizes)))
        byte_bounds = np.concatenate(([0], np.cumsum(records[1])))
        blob = records[0]
        for ref in np.flatnonzero(sizes):
            lo, hi = byte_bounds[row_bounds[ref]], byte_bounds[row_bounds[ref + 1]]
            payload = _labels_bytes(batch.series[ref]) + blob[lo:hi]
            parts.append(b"\x0a" + _varint(len(payload)) + payload)
    for family, meta in sorted(batch.metadata.items()):
        msg = pb.MetricMetadata(
            type=cast(pb.MetricMetadata.MetricType, _TYPE_VALUES.get(meta.type, 0)),
            metric_family_name=family,
            help=meta.help,
            unit=meta.unit,
        ).SerializeToString()
        parts.append(b"\x1a" + _varint(len(msg)) + msg)
    return b"".join(parts)


def _sample_records(stamps: Int64Array, values: Float64Array) -> tuple[bytes, Int64Array]:
    """Every sample as a `samples` record (tag, length, value, timestamp); bytes and sizes."""
    n = len(stamps)
    ts_bytes, ts_sizes = wire.encode_varints(stamps)
    rows = np.zeros((n, 22), dtype=np.uint8)
    rows[:, 0] = 0x12
    rows[:, 1] = 10 + ts_sizes
    rows[:, 2] = wire.TAG_VALUE
    rows[:, 3:11] = np.ascontiguousarray(values, dtype="<f8").view(np.uint8).reshape(n, 8)
    rows[:, 11] = wire.TAG_TIMESTAMP
    rows[:, 12:] = ts_bytes
    sizes = 12 + ts_sizes
    keep = np.arange(22)[None, :] < sizes[:, None]
    return rows[keep].tobytes(), sizes


@lru_cache(maxsize=100_000)
def _labels_bytes(labels: Labels) -> bytes:
    """The `labels` records of one series (cached: senders repeat the same series)."""
    out = []
    for name, value in labels:
        n, v = name.encode(), value.encode()
        body = b"\x0a" + _varint(len(n)) + n + b"\x12" + _varint(len(v)) + v
        out.append(b"\x0a" + _varint(len(body)) + body)
    return b"".join(out)


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


class LabelCache:
    """Label sets already validated, keyed by their encoded bytes; shared across requests.

    Senders repeat the same series in every request, so decoding and validating each distinct
    label encoding once is what makes small requests cheap. Bounded: cleared when full.
    """

    def __init__(self, max_entries: int = 200_000) -> None:
        self.max_entries = max_entries
        self._items: dict[bytes, Labels] = {}
        self._same: dict[Labels, Labels] = {}

    def lookup(self, region: bytes) -> Labels:
        """Labels of one encoded `labels` run; raises InvalidInput if they break the rules.

        Equal label sets (encoded differently) come back as one tuple object.
        """
        found = self._items.get(region)
        if found is None:
            found = _labels_from_region(region)
            if len(self._items) >= self.max_entries:
                self._items.clear()
                self._same.clear()
            found = self._items[region] = self._same.setdefault(found, found)
        return found


DEFAULT_CACHE = LabelCache()


def decode_write_request(body: bytes, cache: LabelCache | None = None) -> SampleBatch:
    """Decode a snappy-compressed `WriteRequest`; InvalidInput says what is wrong with it."""
    try:
        raw = bytes(cramjam.snappy.decompress_raw(body))
    except cramjam.DecompressionError as exc:
        raise InvalidInput(
            f"remote-write body is not a snappy block ({len(body)} bytes): {exc}"
        ) from exc
    return decode_write_request_raw(raw, cache)


def decode_write_request_raw(raw: bytes, cache: LabelCache | None = None) -> SampleBatch:
    """Decode uncompressed `WriteRequest` protobuf bytes into a batch."""
    try:
        fast = decode_scanned(raw, DEFAULT_CACHE if cache is None else cache)
    except (DecodeError, InvalidInput):
        fast = None  # the plain path decodes again and names the offending timeseries
    return fast if fast is not None else _decode_plain(raw)


def decode_scanned(raw: bytes, cache: LabelCache) -> SampleBatch | None:
    """Compiled one-pass decode (labels then samples per TimeSeries); None for other shapes."""
    scan = scan_write_request(raw)
    if scan is None:
        return None
    first, number = distinct_regions(raw, scan)
    series: list[Labels] = []
    known: dict[int, int] = {}  # the cache hands out one tuple per label set: key by identity
    ref_of = np.empty(len(first), dtype=np.int64)
    starts, ends = scan.region_start[first].tolist(), scan.region_end[first].tolist()
    for j, (lo, hi) in enumerate(zip(starts, ends, strict=True)):
        labels = cache.lookup(raw[lo:hi])
        ref_of[j] = ref = known.setdefault(id(labels), len(known))
        if ref == len(series):
            series.append(labels)
    metadata = _metadata(pb.MetricMetadata.FromString(raw[a:b]) for a, b in scan.metadata)
    return SampleBatch(series, ref_of[number][scan.owner], scan.stamps, scan.values, metadata)


def _labels_from_region(region: bytes) -> Labels:
    try:
        msg = pb.TimeSeries.FromString(region)
    except DecodeError as exc:
        raise InvalidInput(f"malformed labels (invalid UTF-8 or truncated): {exc}") from exc
    return _validated_labels([(lb.name, lb.value) for lb in msg.labels], 0)


def _decode_plain(raw: bytes) -> SampleBatch:
    """Decode with the full protobuf messages: any field order, exemplars and histograms too."""
    try:
        req = pb.WriteRequest.FromString(raw)
    except DecodeError as exc:
        raise InvalidInput(_describe_wire_error(raw, exc)) from exc
    index: dict[Labels, int] = {}
    series: list[Labels] = []
    refs: list[int] = []
    stamps: list[int] = []
    values: list[float] = []
    for i, ts in enumerate(req.timeseries):
        if not ts.samples:
            continue
        labels = _validated_labels([(lb.name, lb.value) for lb in ts.labels], i)
        ref = index.setdefault(labels, len(index))
        if ref == len(series):
            series.append(labels)
        for s in ts.samples:
            refs.append(ref)
            stamps.append(s.timestamp)
            values.append(s.value)
    return SampleBatch(
        series,
        np.array(refs, dtype=np.int64),
        np.array(stamps, dtype=np.int64),
        np.array(values, dtype=np.float64),
        _metadata(req.metadata),
    )


def _validated_labels(pairs: list[tuple[str, str]], index: int) -> Labels:
    """Prometheus's rules: valid names, no duplicates, a valid metric name; '' values dropped."""
    seen: set[str] = set()
    for name, _ in pairs:
        if name in seen:
            raise InvalidInput(f"timeseries {index}: duplicate label name {name!r} in {pairs}")
        seen.add(name)
        if not _LABEL_NAME.fullmatch(name):
            raise InvalidInput(f"timeseries {index}: invalid label name {name!r} in {pairs}")
    labels = tuple(sorted((k, v) for k, v in pairs if v != ""))
    metric = dict(labels).get(METRIC_NAME, "")
    if not _METRIC_NAME.fullmatch(metric):
        what = "has no metric name" if not metric else f"has invalid metric name {metric!r}"
        raise InvalidInput(f"timeseries {index} {format_labels(labels)} {what}")
    return labels


def _metadata(items: object) -> dict[str, SeriesMeta]:
    out: dict[str, SeriesMeta] = {}
    for m in items:  # type: ignore[attr-defined]
        if m.metric_family_name:
            kind = _TYPE_NAMES.get(m.type, "unknown")
            out[m.metric_family_name] = SeriesMeta(kind, m.help, m.unit)
    return out


def _describe_wire_error(raw: bytes, exc: DecodeError) -> str:
    """Name the first broken top-level record of a request protobuf would not parse."""
    pos = 0
    while pos < len(raw):
        tag, pos2 = _read_varint(raw, pos)
        if tag is None:
            return f"malformed protobuf WriteRequest: truncated field tag at byte {pos}"
        wtype = tag & 7
        if wtype == 2:
            length, pos3 = _read_varint(raw, pos2)
            if length is None or pos3 + length > len(raw):
                want = "?" if length is None else str(length)
                return (
                    f"malformed protobuf WriteRequest: field {tag >> 3} at byte {pos} declares "
                    f"{want} bytes but only {len(raw) - pos3} remain (truncated request?)"
                )
            pos = pos3 + length
        elif wtype in (0, 1, 5):
            skip = {1: 8, 5: 4}.get(wtype, 0)
            val, pos = _read_varint(raw, pos2) if wtype == 0 else (0, pos2 + skip)
            if val is None or pos > len(raw):
                return f"malformed protobuf WriteRequest: truncated field at byte {pos2}"
        else:
            return f"malformed protobuf WriteRequest: invalid wire type {wtype} at byte {pos}"
    return f"malformed protobuf WriteRequest (a nested message is broken: {exc})"


def _read_varint(raw: bytes, pos: int) -> tuple[int | None, int]:
    value, shift = 0, 0
    while pos < len(raw) and shift < 70:
        b = raw[pos]
        value |= (b & 0x7F) << shift
        pos += 1
        if b < 0x80:
            return value, pos
        shift += 7
    return None, pos
