"""Prometheus API JSON encoding of query results: values as strings, timestamps as seconds."""

from __future__ import annotations

import json
import math
import operator
from collections.abc import Iterable
from typing import Any

import numpy as np
import orjson

from openmanager.samples import Float64Array, Int64Array, Labels


def format_value(v: float) -> str:
    """Go's strconv.FormatFloat(v, 'f', -1, 64): shortest exact decimal, never an exponent."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    text = repr(v)
    if "e" in text:
        return np.format_float_positional(v, unique=True, trim="-")
    return text[:-2] if text.endswith(".0") else text


def format_ts(ms: int) -> float | int:
    """Milliseconds as the JSON number of seconds Prometheus writes."""
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


def metric_json(labels: Labels) -> dict[str, str]:
    """A label set as the `metric` object."""
    return dict(labels)


def points_json(timestamps: Int64Array, values: Float64Array) -> list[list[Any]]:
    """[[ts, "value"], ...] for one series."""
    return [
        [format_ts(t), format_value(v)]
        for t, v in zip(timestamps.tolist(), values.tolist(), strict=True)
    ]


def vector_json(items: Iterable[tuple[Labels, int, float]]) -> list[dict[str, Any]]:
    """An instant vector: one sample per series."""
    return [
        {"metric": metric_json(lbl), "value": [format_ts(t), format_value(v)]}
        for lbl, t, v in items
    ]


def matrix_json(items: Iterable[tuple[Labels, Int64Array, Float64Array]]) -> list[dict[str, Any]]:
    """A range result: all samples per series."""
    return [{"metric": metric_json(lbl), "values": points_json(ts, vs)} for lbl, ts, vs in items]


def _value_texts(values: Float64Array) -> list[str]:
    """`format_value` of every value: orjson's shortest round-trip digits (Ryu, several times
    faster than float repr), minus trailing ".0" (",": ".0," only ever ends a value);
    exponents and NaN/infinities (orjson's null) take the exact per-value path."""
    if len(values) == 0:
        return []
    array = np.ascontiguousarray(values, dtype=np.float64)
    text = orjson.dumps(array, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    if "e" in text or "n" in text:
        return [format_value(v) for v in array.tolist()]
    return (text[1:-1] + ",").replace(".0,", ",").split(",")[:-1]


def _ts_text(ms: int) -> str:
    return str(ms // 1000) if ms % 1000 == 0 else repr(ms / 1000)


def _ts_texts(timestamps: Int64Array) -> list[str]:
    """`format_ts` of every timestamp as JSON text (whole seconds need no per-point Python)."""
    if len(timestamps) and not np.any(timestamps % 1000):
        return list(map(str, (timestamps // 1000).tolist()))
    return [_ts_text(ms) for ms in timestamps.tolist()]


def matrix_text(items: Iterable[tuple[Labels, Int64Array, Float64Array]]) -> str:
    """`matrix_json` serialised straight to JSON text (a range result can hold 100k+ points:
    building and encoding nested lists point by point would cost more than the query)."""
    parts = []
    prev_ts: Int64Array | None = None
    heads: list[str] = []
    for labels, timestamps, values in items:
        if prev_ts is None or not np.array_equal(prev_ts, timestamps):
            # Series mostly share a grid: its `[ts,"` point openings are made once.
            prev_ts, heads = timestamps, [f'[{t},"' for t in _ts_texts(timestamps)]
        texts = _value_texts(values)
        if len(texts) != len(heads):
            raise ValueError("every series needs as many values as timestamps")
        metric = json.dumps(metric_json(labels), separators=(",", ":"), ensure_ascii=False)
        body = '"],'.join(map(operator.add, heads, texts)) + '"]' if texts else ""
        parts.append(f'{{"metric":{metric},"values":[{body}]}}')
    return "[" + ",".join(parts) + "]"
