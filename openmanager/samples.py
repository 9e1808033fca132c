"""The one shape data travels in: a columnar batch of samples for many series.

Every source (simulator, scrape, remote-write, backfill) produces a `SampleBatch`; every
storage backend consumes one. Columnar so that appends stay vectorised with NumPy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from openmanager.errors import InvalidInput

Labels = tuple[tuple[str, str], ...]
"""A series identity: (name, value) pairs sorted by name; the metric name is `__name__`."""

METRIC_NAME = "__name__"
STALE_NAN_BITS = 0x7FF0000000000002
"""Prometheus's stale marker: a NaN with this exact bit pattern."""

STALE_NAN: float = float(np.array([STALE_NAN_BITS], dtype=np.uint64).view(np.float64)[0])

Int64Array = npt.NDArray[np.int64]
Float64Array = npt.NDArray[np.float64]


def make_labels(name: str | None, labels: Mapping[str, str] | Iterable[tuple[str, str]]) -> Labels:
    """Build a canonical `Labels` tuple; empty values are dropped as Prometheus does."""
    items = dict(labels.items() if isinstance(labels, Mapping) else labels)
    if name is not None:
        items[METRIC_NAME] = name
    return tuple(sorted((k, v) for k, v in items.items() if v != ""))


def labels_get(labels: Labels, name: str, default: str = "") -> str:
    """Value of one label, or `default` when the series has no such label."""
    for k, v in labels:
        if k == name:
            return v
    return default


def metric_name(labels: Labels) -> str:
    """The series' `__name__`, or '' if it has none."""
    return labels_get(labels, METRIC_NAME)


def format_labels(labels: Labels) -> str:
    """Render a series the way Prometheus prints it: `name{a="1",b="2"}`."""
    name = metric_name(labels)
    rest = ",".join(f'{k}="{_escape(v)}"' for k, v in labels if k != METRIC_NAME)
    return f"{name}{{{rest}}}" if rest or not name else name


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def is_stale(values: Float64Array) -> npt.NDArray[np.bool_]:
    """True where a value is exactly the stale-marker NaN (bit-for-bit)."""
    bits = np.asarray(values, dtype=np.float64).view(np.uint64)
    result: npt.NDArray[np.bool_] = bits == np.uint64(STALE_NAN_BITS)
    return result


@dataclass(frozen=True)
class SeriesMeta:
    """Metric family metadata as the exposition formats carry it."""

    type: str = "unknown"
    help: str = ""
    unit: str = ""


@dataclass
class SampleBatch:
    """Samples of many series: sample i is (series[series_ref[i]], timestamps[i], values[i])."""

    series: list[Labels]
    series_ref: npt.NDArray[np.int64]
    timestamps: Int64Array
    values: Float64Array
    metadata: dict[str, SeriesMeta] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.series_ref = np.asarray(self.series_ref, dtype=np.int64)
        self.timestamps = np.asarray(self.timestamps, dtype=np.int64)
        self.values = np.asarray(self.values, dtype=np.float64)
        n = len(self.timestamps)
        if len(self.series_ref) != n or len(self.values) != n:
            raise InvalidInput(
                f"sample batch columns differ in length: series_ref={len(self.series_ref)}, "
                f"timestamps={n}, values={len(self.values)}"
            )
        if n and (self.series_ref.min() < 0 or self.series_ref.max() >= len(self.series)):
            raise InvalidInput("sample batch refers to a series index outside its series list")

    def __len__(self) -> int:
        return len(self.timestamps)

    @classmethod
    def empty(cls) -> SampleBatch:
        """A batch with no samples."""
        z = np.zeros(0)
        return cls([], z.astype(np.int64), z.astype(np.int64), z)

    @classmethod
    def from_series(
        cls,
        items: Sequence[tuple[Labels, Int64Array | Sequence[int], Float64Array | Sequence[float]]],
        metadata: dict[str, SeriesMeta] | None = None,
    ) -> SampleBatch:
        """Build a batch from (labels, timestamps, values) per series."""
        if not items:
            return cls.empty()
        ts = [np.asarray(t, dtype=np.int64) for _, t, _ in items]
        vs = [np.asarray(v, dtype=np.float64) for _, _, v in items]
        refs = np.repeat(np.arange(len(items), dtype=np.int64), [len(t) for t in ts])
        return cls(
            [lbl for lbl, _, _ in items],
            refs,
            np.concatenate(ts),
            np.concatenate(vs),
            dict(metadata or {}),
        )

    def per_series(self) -> list[tuple[Labels, Int64Array, Float64Array]]:
        """Split into (labels, timestamps, values) per series, keeping sample order."""
        order = np.argsort(self.series_ref, kind="stable")
        refs = self.series_ref[order]
        bounds = np.flatnonzero(np.diff(refs)) + 1
        out = []
        for chunk in np.split(np.arange(len(refs)), bounds):
            if len(chunk) == 0:
                continue
            idx = order[chunk]
            out.append((self.series[int(refs[chunk[0]])], self.timestamps[idx], self.values[idx]))
        return out
