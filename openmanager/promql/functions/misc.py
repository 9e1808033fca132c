"""Type conversions and result shaping: `vector`, `scalar`, `absent`, and the sort family
(`sort`, `sort_desc`, `sort_by_label`, `sort_by_label_desc`).

Sorting only changes the order of an instant query's result; a range query's series are
ordered by labels downstream, exactly as Prometheus ignores sort there.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

import numpy as np

from openmanager.promql.functions import experimental, register
from openmanager.promql.functions._common import (
    absent_labels,
    finish,
    scalar_arg,
    string_arg,
    vector_arg,
)
from openmanager.promql.types import (
    BoolArray,
    EvalContext,
    FunctionDef,
    StepScalar,
    StepVector,
    Value,
    ValueType,
)
from openmanager.samples import Labels, labels_get

_V, _S, _STR = ValueType.VECTOR, ValueType.SCALAR, ValueType.STRING
_CHUNK = re.compile(r"[0-9]+|[^0-9]+")
_INT64_MAX = (1 << 63) - 1
_DIGITS = "0123456789"


def _vector(ctx: EvalContext, args: Sequence[Value]) -> Value:
    values = scalar_arg(args, 0, ctx.n_steps)
    present = np.ones((1, ctx.n_steps), dtype=bool)
    return finish([()], np.array(values, dtype=np.float64)[None, :], present, ctx.n_steps)


def _scalar(ctx: EvalContext, args: Sequence[Value]) -> Value:
    """The only sample's value at each step, NaN when there is none or more than one."""
    vec = vector_arg(args, 0)
    if len(vec) == 0:
        return StepScalar(np.full(ctx.n_steps, np.nan))
    count = vec.present.sum(axis=0)
    picked = np.where(vec.present, vec.values, 0.0).sum(axis=0)
    return StepScalar(np.where(count == 1, picked, np.nan))


def _absent(ctx: EvalContext, args: Sequence[Value]) -> Value:
    vec = vector_arg(args, 0)
    missing: BoolArray = np.ones(ctx.n_steps, dtype=bool)
    if len(vec):
        missing = np.asarray(~vec.present.any(axis=0), dtype=bool)
    labels = absent_labels(ctx, 0)
    return finish([labels], np.ones((1, ctx.n_steps)), missing[None, :], ctx.n_steps)


def _reorder(vec: StepVector, order: Sequence[int]) -> StepVector:
    idx = np.asarray(order, dtype=np.int64)
    return StepVector(
        [vec.labels[i] for i in idx],
        vec.values[idx],
        vec.present[idx],
        sample_ts=None if vec.sample_ts is None else vec.sample_ts[idx],
        drop_name=None if vec.drop_name is None else vec.drop_name[idx],
    )


def _sort_by_value(descending: bool) -> FunctionDef:
    def impl(ctx: EvalContext, args: Sequence[Value]) -> Value:
        vec = vector_arg(args, 0)
        if ctx.n_steps != 1 or len(vec) < 2:
            return vec
        v = vec.values[:, 0]
        nan = np.isnan(v) | ~vec.present[:, 0]  # NaN (and absent rows) go last either way
        key = np.where(nan, 0.0, -v if descending else v)
        return _reorder(vec, list(np.lexsort((key, nan))))

    name = "sort_desc" if descending else "sort"
    return FunctionDef(name, (_V,), _V, impl, keeps_name=True)


def natural_less(a: str, b: str) -> bool:
    """facette/natsort's Compare: digit runs compare as numbers, other runs as strings."""
    ca, cb = _CHUNK.findall(a), _CHUNK.findall(b)
    for i, x in enumerate(ca):
        if i >= len(cb):
            return False
        y = cb[i]
        nx = int(x) if x[0] in _DIGITS and int(x) <= _INT64_MAX else None
        ny = int(y) if y[0] in _DIGITS and int(y) <= _INT64_MAX else None
        if nx is not None and ny is not None:
            if nx != ny:
                return nx < ny
        elif x != y:
            return bool(x < y)
        if i == len(ca) - 1:
            return True
        if i == len(cb) - 1:
            return False
    return False


def _sort_by_label(descending: bool) -> FunctionDef:
    def impl(ctx: EvalContext, args: Sequence[Value]) -> Value:
        vec = vector_arg(args, 0)
        names = [string_arg(args, i) for i in range(1, len(args))]
        if len(vec) < 2:
            return vec

        def compare(i: int, j: int) -> int:
            a, b = vec.labels[i], vec.labels[j]
            for name in names:
                x, y = labels_get(a, name), labels_get(b, name)
                if x == y:
                    continue
                less = natural_less(x, y)
                return (1 if less else -1) if descending else (-1 if less else 1)
            return _compare_labels(b, a) if descending else _compare_labels(a, b)

        order = sorted(range(len(vec)), key=functools.cmp_to_key(compare))
        return _reorder(vec, order)

    name = "sort_by_label_desc" if descending else "sort_by_label"
    return FunctionDef(
        name, (_V, _STR), _V, impl, variadic=True, keeps_name=True, extra=experimental()
    )


def _compare_labels(a: Labels, b: Labels) -> int:
    return (a > b) - (a < b)


register(FunctionDef("vector", (_S,), _V, _vector))
register(FunctionDef("scalar", (_V,), _S, _scalar))
register(FunctionDef("absent", (_V,), _V, _absent))
register(_sort_by_value(descending=False))
register(_sort_by_value(descending=True))
register(_sort_by_label(descending=False))
register(_sort_by_label(descending=True))
