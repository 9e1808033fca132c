"""Time functions: `time()`, `timestamp()` and the UTC calendar fields (year ... minute) of
either the evaluation time or each sample value read as Unix seconds.

Calendar fields use NumPy's datetime64 arithmetic over whole arrays.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from openmanager.promql.functions import register
from openmanager.promql.functions._common import finish, map_values, vector_arg
from openmanager.promql.types import EvalContext, FunctionDef, StepScalar, Value, ValueType
from openmanager.samples import Float64Array, Int64Array

_V, _S = ValueType.VECTOR, ValueType.SCALAR
_MAX_SECONDS = 1e15
"""Beyond ~30 million years calendar fields are not meaningful; such inputs give NaN."""

Field = Callable[[Int64Array], npt.NDArray[np.int64]]


def _days(secs: Int64Array) -> npt.NDArray[np.int64]:
    return np.floor_divide(secs, 86400)


def _month_start_days(secs: Int64Array) -> npt.NDArray[np.int64]:
    months = secs.astype("datetime64[s]").astype("datetime64[M]")
    return months.astype("datetime64[D]").astype(np.int64)


def _year(secs: Int64Array) -> npt.NDArray[np.int64]:
    return secs.astype("datetime64[s]").astype("datetime64[Y]").astype(np.int64) + 1970


def _month(secs: Int64Array) -> npt.NDArray[np.int64]:
    months = secs.astype("datetime64[s]").astype("datetime64[M]").astype(np.int64)
    return np.mod(months, 12) + 1


def _day_of_month(secs: Int64Array) -> npt.NDArray[np.int64]:
    return _days(secs) - _month_start_days(secs) + 1


def _day_of_year(secs: Int64Array) -> npt.NDArray[np.int64]:
    years = secs.astype("datetime64[s]").astype("datetime64[Y]")
    return _days(secs) - years.astype("datetime64[D]").astype(np.int64) + 1


def _days_in_month(secs: Int64Array) -> npt.NDArray[np.int64]:
    months = secs.astype("datetime64[s]").astype("datetime64[M]")
    nxt = (months + 1).astype("datetime64[D]").astype(np.int64)
    return nxt - months.astype("datetime64[D]").astype(np.int64)


_FIELDS: dict[str, Field] = {
    "year": _year,
    "month": _month,
    "day_of_month": _day_of_month,
    "day_of_year": _day_of_year,
    "day_of_week": lambda secs: np.mod(_days(secs) + 4, 7),  # 1970-01-01 was a Thursday
    "days_in_month": _days_in_month,
    "hour": lambda secs: np.floor_divide(np.mod(secs, 86400), 3600),
    "minute": lambda secs: np.floor_divide(np.mod(secs, 3600), 60),
}


def _field_of_floats(fn: Field, values: Float64Array) -> Float64Array:
    """fn of each value read as Unix seconds (truncated toward zero, as Go's int64())."""
    ok = np.isfinite(values) & (np.abs(values) < _MAX_SECONDS)
    secs = np.trunc(np.where(ok, values, 0.0)).astype(np.int64)
    return np.where(ok, fn(secs).astype(np.float64), np.nan)


def _date_fn(fn: Field) -> Callable[[EvalContext, Sequence[Value]], Value]:
    def impl(ctx: EvalContext, args: Sequence[Value]) -> Value:
        if args:
            vec = vector_arg(args, 0)
            return map_values(vec, _field_of_floats(fn, vec.values))
        # No argument: the evaluation time itself (Go's ts/1000 truncates toward zero).
        steps = np.asarray(ctx.steps, dtype=np.int64)
        secs = np.sign(steps) * (np.abs(steps) // 1000)
        values = fn(secs).astype(np.float64)[None, :]
        present = np.ones((1, ctx.n_steps), dtype=bool)
        return finish([()], values, present, ctx.n_steps)

    return impl


def _time(ctx: EvalContext, args: Sequence[Value]) -> Value:
    return StepScalar(np.asarray(ctx.steps, dtype=np.float64) / 1000)


def _timestamp(ctx: EvalContext, args: Sequence[Value]) -> Value:
    vec = vector_arg(args, 0)
    if vec.sample_ts is not None:
        ts = np.asarray(vec.sample_ts, dtype=np.float64)
    else:  # computed values carry the evaluation time, as in Prometheus
        ts = np.broadcast_to(np.asarray(ctx.steps, dtype=np.float64), vec.values.shape)
    return map_values(vec, ts / 1000)


for _name, _field in _FIELDS.items():
    register(FunctionDef(_name, (_V,), _V, _date_fn(_field), optional_args=1))
register(FunctionDef("time", (), _S, _time))
register(FunctionDef("timestamp", (_V,), _V, _timestamp))
