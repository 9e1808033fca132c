"""Element-wise math on instant vectors (abs, exp, logs, trigonometry, sgn, clamp*, round) and
the `pi()` constant; each is one NumPy call over the whole series x steps matrix.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from openmanager.promql.functions import register
from openmanager.promql.functions._common import map_values, scalar_arg, vector_arg
from openmanager.promql.types import EvalContext, FunctionDef, StepScalar, Value, ValueType
from openmanager.samples import Float64Array

_V, _S = ValueType.VECTOR, ValueType.SCALAR

ElementFn = Callable[[Float64Array], Float64Array]


def _sgn(v: Float64Array) -> Float64Array:
    # Zero (either sign) and NaN are returned unchanged, as Prometheus does.
    return np.where(v < 0, -1.0, np.where(v > 0, 1.0, v))


_ELEMENTWISE: dict[str, ElementFn] = {
    "abs": np.abs,
    "ceil": np.ceil,
    "floor": np.floor,
    "exp": np.exp,
    "sqrt": np.sqrt,
    "ln": np.log,
    "log2": np.log2,
    "log10": np.log10,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "asin": np.arcsin,
    "acos": np.arccos,
    "atan": np.arctan,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "tanh": np.tanh,
    "asinh": np.arcsinh,
    "acosh": np.arccosh,
    "atanh": np.arctanh,
    "rad": lambda v: v * np.pi / 180,
    "deg": lambda v: v * 180 / np.pi,
    "sgn": _sgn,
}


def _elementwise(fn: ElementFn) -> Callable[[EvalContext, Sequence[Value]], Value]:
    def impl(ctx: EvalContext, args: Sequence[Value]) -> Value:
        vec = vector_arg(args, 0)
        with np.errstate(all="ignore"):
            return map_values(vec, np.asarray(fn(vec.values), dtype=np.float64))

    return impl


def _clamp_between(
    ctx: EvalContext, args: Sequence[Value], low: Float64Array, high: Float64Array
) -> Value:
    vec = vector_arg(args, 0)
    # math.Max/math.Min semantics: NaN bounds give NaN; max < min gives no output at that step.
    with np.errstate(invalid="ignore"):
        values = np.maximum(low[None, :], np.minimum(high[None, :], vec.values))
        keep = ~(high < low)
    return map_values(vec, values, vec.present & keep[None, :])


def _clamp(ctx: EvalContext, args: Sequence[Value]) -> Value:
    low = scalar_arg(args, 1, ctx.n_steps)
    high = scalar_arg(args, 2, ctx.n_steps)
    return _clamp_between(ctx, args, low, high)


def _clamp_min(ctx: EvalContext, args: Sequence[Value]) -> Value:
    low = scalar_arg(args, 1, ctx.n_steps)
    return _clamp_between(ctx, args, low, np.full(ctx.n_steps, np.inf))


def _clamp_max(ctx: EvalContext, args: Sequence[Value]) -> Value:
    high = scalar_arg(args, 1, ctx.n_steps)
    return _clamp_between(ctx, args, np.full(ctx.n_steps, -np.inf), high)


def _round(ctx: EvalContext, args: Sequence[Value]) -> Value:
    vec = vector_arg(args, 0)
    to_nearest = scalar_arg(args, 1, ctx.n_steps) if len(args) > 1 else np.ones(ctx.n_steps)
    with np.errstate(all="ignore"):
        # Prometheus multiplies by the inverse (fewer float surprises) and rounds ties up.
        inverse = (1.0 / to_nearest)[None, :]
        values = np.floor(vec.values * inverse + 0.5) / inverse
    return map_values(vec, values)


def _pi(ctx: EvalContext, args: Sequence[Value]) -> Value:
    return StepScalar(np.full(ctx.n_steps, np.pi))


for _name, _fn in _ELEMENTWISE.items():
    register(FunctionDef(_name, (_V,), _V, _elementwise(_fn)))
register(FunctionDef("clamp", (_V, _S, _S), _V, _clamp))
register(FunctionDef("clamp_min", (_V, _S), _V, _clamp_min))
register(FunctionDef("clamp_max", (_V, _S), _V, _clamp_max))
register(FunctionDef("round", (_V, _S), _V, _round, optional_args=1))
register(FunctionDef("pi", (), _S, _pi))
