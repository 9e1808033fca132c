"""Fastest remote-write decode: requests whose every TimeSeries is labels then one sample.

That is how Prometheus's queue manager sends (one TimeSeries per sample). Each TimeSeries
is read from its end: the sample record `0x12 L 0x09 <double> 0x10 <varint>` has a fixed
shape once the timestamp's varint length is known, so a few NumPy passes over all
TimeSeries find every value, timestamp and label region at once. A label region is
accepted only if it is nothing but `labels` records (checked once per distinct region, then
cached), which makes the whole TimeSeries exactly "labels + one sample". Anything else
returns None and the general decoder takes over.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from openmanager.ingest.proto import remote_pb2 as pb
from openmanager.ingest.proto import wire
from openmanager.samples import Labels, SampleBatch

_MAX_TS_BYTES = 9  # a 10-byte varint is a negative timestamp: left to the general path
_EIGHT = np.arange(8, dtype=np.int64)


class RegionCache:
    """Label regions known to hold only `labels` records, mapped to validated labels."""

    def __init__(self, lookup: Callable[[bytes], Labels], max_entries: int = 200_000) -> None:
        self._lookup = lookup  # validates the labels; raises InvalidInput
        self.max_entries = max_entries
        self._items: dict[bytes, Labels] = {}

    def get(self, region: bytes) -> Labels | None:
        """Labels of a region, or None if it is not a pure run of `labels` records."""
        found = self._items.get(region)
        if found is None:
            buf = np.frombuffer(region, dtype=np.uint8)
            one = np.array([0], dtype=np.int64)
            end, ok = wire.scan_label_prefix(buf, one, np.array([len(region)], dtype=np.int64))
            if not ok or int(end[0]) != len(region):
                return None
            found = self._lookup(region)
            if len(self._items) >= self.max_entries:
                self._items.clear()
            self._items[region] = found
        return found


def decode_single_samples(raw: bytes, regions: RegionCache) -> SampleBatch | None:
    """Decode a request of single-sample TimeSeries only; None for any other shape.

    Raises DecodeError (protobuf) or InvalidInput (labels) like the general fast path.
    """
    chunks = pb.WriteRequestRaw.FromString(raw).timeseries
    n = len(chunks)
    if n == 0:
        return None
    sizes = np.fromiter(map(len, chunks), dtype=np.int64, count=n)
    heads = 1 + wire.varint_sizes(sizes)
    if int((heads + sizes).sum()) != len(raw):
        return None  # other top-level fields (metadata) or non-minimal lengths
    buf = np.frombuffer(raw, dtype=np.uint8)
    ends = np.cumsum(heads + sizes)
    starts = ends - sizes
    if buf[ends - 1].max(initial=0) >= 0x80 or sizes.min() < 13:
        return None
    k = np.ones(n, dtype=np.int64)  # bytes of each timestamp varint
    open_ = np.ones(n, dtype=np.bool_)
    for j in range(1, _MAX_TS_BYTES + 1):
        cont = open_ & (buf[np.maximum(ends - 1 - j, 0)] >= 0x80)
        if not cont.any():
            break
        if j == _MAX_TS_BYTES:
            return None
        k += cont
        open_ = cont
    rec = ends - k - 12  # where each sample record starts
    if (
        (rec < starts).any()
        or (buf[ends - k - 1] != wire.TAG_TIMESTAMP).any()
        or (buf[ends - k - 10] != wire.TAG_VALUE).any()
        or (buf[ends - k - 11] != 10 + k).any()
        or (buf[rec] != 0x12).any()
    ):
        return None
    values = np.ascontiguousarray(buf[(ends - k - 9)[:, None] + _EIGHT]).view("<f8").ravel()
    stamps = np.zeros(n, dtype=np.uint64)
    for j in range(int(k.max())):
        has = k > j
        at = np.where(has, ends - k + j, 0)
        byte = (buf[at] & 0x7F).astype(np.uint64) * has
        stamps |= byte << np.uint64(7 * j)
    regions_b = list(map(raw.__getitem__, map(slice, starts.tolist(), rec.tolist())))
    unique: dict[bytes, int] = dict.fromkeys(regions_b, 0)
    series: list[Labels] = []
    known: dict[Labels, int] = {}
    for region in unique:
        labels = regions.get(region)
        if labels is None:
            return None
        unique[region] = ref = known.setdefault(labels, len(known))
        if ref == len(series):
            series.append(labels)
    refs = np.fromiter(map(unique.__getitem__, regions_b), dtype=np.int64, count=n)
    return SampleBatch(series, refs, stamps.view(np.int64), values.astype(np.float64), {})
