"""Builders for function-library tests: series from the .test files' `load` notation, range
vectors, step vectors, and a one-call evaluator for a registered function."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from openmanager.promql.functions import FUNCTIONS
from openmanager.promql.types import (
    EvalContext,
    RangeSeries,
    RangeVector,
    StepScalar,
    StepVector,
    StringValue,
    Value,
)
from openmanager.samples import Labels, make_labels
from openmanager.tsdb.matchers import Matcher


def labels(name: str | None = None, **kv: str) -> Labels:
    return make_labels(name, kv)


def expand(spec: str) -> list[float | None]:
    """The `load` notation: `1 2 _ 3`, `0+10x3` (0 10 20 30), `5-1x2`, `1x2` (1 1 1)."""
    out: list[float | None] = []
    for tok in spec.split():
        if tok == "_":
            out.append(None)
            continue
        if "x" in tok and not tok.lower().startswith(("inf", "+inf", "-inf", "nan")):
            head, times = tok.split("x")
            n = int(times)
            for sign in ("+", "-"):
                pos = head.find(sign, 1)
                if pos > 0:
                    start, step = float(head[:pos]), float(head[pos + 1 :])
                    step = step if sign == "+" else -step
                    out.extend(start + i * step for i in range(n + 1))
                    break
            else:
                out.extend([float(head)] * (n + 1))
            continue
        out.append(float(tok))
    return out


def series(lab: Labels, interval_ms: int, spec: str, start_ms: int = 0) -> RangeSeries:
    vals = expand(spec)
    ts = [start_ms + i * interval_ms for i, v in enumerate(vals) if v is not None]
    vs = [v for v in vals if v is not None]
    return RangeSeries(lab, np.array(ts, dtype=np.int64), np.array(vs, dtype=np.float64))


def range_vector(
    items: Sequence[RangeSeries], steps_ms: Sequence[int], range_ms: int
) -> RangeVector:
    return RangeVector(list(items), np.asarray(steps_ms, dtype=np.int64), range_ms)


def instant(
    items: Sequence[RangeSeries], steps_ms: Sequence[int], lookback_ms: int = 300_000
) -> StepVector:
    """What an instant selector gives at each step (latest sample within the lookback)."""
    steps = np.asarray(steps_ms, dtype=np.int64)
    labs, rows_v, rows_p, rows_t = [], [], [], []
    for s in items:
        idx = np.searchsorted(s.timestamps, steps, side="right") - 1
        safe = np.maximum(idx, 0)
        pres = (idx >= 0) & (s.timestamps[safe] > steps - lookback_ms)
        labs.append(s.labels)
        rows_v.append(s.values[safe])
        rows_p.append(pres)
        rows_t.append(s.timestamps[safe])
    if not labs:
        return StepVector.empty(len(steps))
    return StepVector(labs, np.vstack(rows_v), np.vstack(rows_p), np.vstack(rows_t))


def vec(rows: Mapping[Labels, Sequence[float]], n_steps: int | None = None) -> StepVector:
    """A step vector from {labels: values per step} (NaN values are present NaNs)."""
    labs = list(rows)
    width = n_steps or len(next(iter(rows.values())))
    values = np.array([list(v) for v in rows.values()], dtype=np.float64).reshape(len(labs), width)
    return StepVector(labs, values, np.ones_like(values, dtype=bool))


def scalar(value: float, n_steps: int = 1) -> StepScalar:
    return StepScalar(np.full(n_steps, value, dtype=np.float64))


def call(
    name: str,
    *args: Value | float | str,
    steps_ms: Sequence[int] = (0,),
    matchers: tuple[tuple[Matcher, ...] | None, ...] = (),
) -> Value:
    """Evaluate one registered function; floats and strs become scalar/string arguments."""
    n = len(steps_ms)
    conv: list[Value] = []
    for a in args:
        if isinstance(a, str):
            conv.append(StringValue(a))
        elif isinstance(a, float | int):
            conv.append(scalar(float(a), n))
        else:
            conv.append(a)
    ctx = EvalContext(np.asarray(steps_ms, dtype=np.int64), arg_matchers=matchers)
    return FUNCTIONS[name].impl(ctx, conv)


def result(value: Value, step: int = 0) -> dict[Labels, float]:
    """{labels: value} of a vector result at one step (absent series left out)."""
    assert isinstance(value, StepVector)
    return {
        lab: float(value.values[i, step])
        for i, lab in enumerate(value.labels)
        if value.present[i, step]
    }


def rows(value: Value) -> dict[Labels, list[float | None]]:
    """{labels: [value or None per step]} of a vector result."""
    assert isinstance(value, StepVector)
    return {
        lab: [
            float(v) if p else None for v, p in zip(value.values[i], value.present[i], strict=True)
        ]
        for i, lab in enumerate(value.labels)
    }
