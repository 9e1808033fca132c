"""Read and write NAB-style ``timestamp,value`` CSV files (timestamps as text or unix seconds)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np
from numpy.typing import NDArray

from openmanager.errors import InvalidInput


@dataclass(frozen=True)
class SeriesCsv:
    """The rows of one file as read (header and text kept) and the parsed columns."""

    header: list[str]
    rows: list[list[str]]
    timestamps: NDArray[np.float64]
    values: NDArray[np.float64]


def _seconds(text: str) -> float:
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        stamp = np.datetime64(text.replace(" ", "T").rstrip("Z"), "us")
    except ValueError:
        raise InvalidInput(f"cannot parse timestamp {text!r}") from None
    return float(stamp.astype("datetime64[us]").astype(np.int64)) / 1e6


def read_series(path: Path) -> SeriesCsv:
    """A CSV with ``timestamp`` and ``value`` columns; empty or non-numeric values become NaN."""
    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            raise InvalidInput(f"{path}: empty file")
        cols = [h.strip().lower() for h in header]
        if "timestamp" not in cols or "value" not in cols:
            raise InvalidInput(f"{path}: needs 'timestamp' and 'value' columns, got {header}")
        ti, vi = cols.index("timestamp"), cols.index("value")
        rows = [r for r in reader if r]
    ts = np.array([_seconds(r[ti]) for r in rows], dtype=np.float64)
    vals = np.array([_number(r[vi]) if vi < len(r) else np.nan for r in rows], dtype=np.float64)
    return SeriesCsv(header, rows, ts, vals)


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("nan")


def write_scored(path: Path, series: SeriesCsv, scores: NDArray[np.float64]) -> None:
    """The same rows with an ``anomaly_score`` column appended, into ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        write_scored_to(fh, series, scores)


def write_scored_to(fh: TextIO, series: SeriesCsv, scores: NDArray[np.float64]) -> None:
    """The same rows with an ``anomaly_score`` column appended, to an open text stream."""
    w = csv.writer(fh, lineterminator="\n")
    w.writerow([*series.header, "anomaly_score"])
    for row, s in zip(series.rows, scores, strict=True):
        w.writerow([*row, f"{float(s):.6f}"])
