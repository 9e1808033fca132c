"""Binary operators: arithmetic, comparison (filtering or `bool`) and set operators.

Scalar/vector cases are plain NumPy broadcasts. Vector/vector matching pairs series by their
join signature once (a Python loop over series, never samples), then computes every pair over
all steps at once, raising Prometheus's own errors for ambiguous matches.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from openmanager.promql.ast import VectorMatching
from openmanager.promql.errors import QueryExecutionError
from openmanager.promql.types import BoolArray, StepScalar, StepVector
from openmanager.promql.vector import (
    build,
    drop_flags,
    drop_these,
    format_labels_go,
    keep_only,
    with_label,
    without_name,
)
from openmanager.samples import METRIC_NAME, Float64Array, Labels

ARITHMETIC = frozenset({"+", "-", "*", "/", "%", "^", "atan2"})
COMPARISON = frozenset({"==", "!=", ">", "<", ">=", "<="})
SET_OPS = frozenset({"and", "or", "unless"})

_ARITH: dict[str, Callable[[Float64Array, Float64Array], Float64Array]] = {
    "+": np.add,
    "-": np.subtract,
    "*": np.multiply,
    "/": np.divide,
    "%": np.fmod,
    "^": np.power,
    "atan2": np.arctan2,
}
_CMP: dict[str, Callable[[Float64Array, Float64Array], BoolArray]] = {
    "==": np.equal,
    "!=": np.not_equal,
    ">": np.greater,
    "<": np.less,
    ">=": np.greater_equal,
    "<=": np.less_equal,
}


def arith(op: str, a: Float64Array, b: Float64Array) -> Float64Array:
    """Elementwise arithmetic with Go's float semantics (x/0 = ±Inf, fmod for %)."""
    with np.errstate(all="ignore"):
        return np.asarray(_ARITH[op](a, b), dtype=np.float64)


def compare(op: str, a: Float64Array, b: Float64Array) -> BoolArray:
    """Elementwise comparison (NaN compares false, except `!=`)."""
    with np.errstate(invalid="ignore"):
        return np.asarray(_CMP[op](a, b), dtype=bool)


def scalar_scalar(op: str, lhs: StepScalar, rhs: StepScalar) -> StepScalar:
    """Scalar op scalar; comparisons here always carry `bool` (the parser enforces it)."""
    if op in COMPARISON:
        return StepScalar(compare(op, lhs.values, rhs.values).astype(np.float64))
    return StepScalar(arith(op, lhs.values, rhs.values))


def vector_scalar(
    op: str, vec: StepVector, scalar: StepScalar, scalar_left: bool, return_bool: bool
) -> StepVector:
    """Vector op scalar (or scalar op vector when scalar_left)."""
    s = scalar.values[np.newaxis, :]
    a, b = (s, vec.values) if scalar_left else (vec.values, s)
    drop = drop_flags(vec).copy()
    if op in ARITHMETIC:
        values = arith(op, np.broadcast_to(a, vec.values.shape), b)
        present = vec.present
        drop[:] = True
    else:
        keep = compare(op, np.broadcast_to(a, vec.values.shape), b)
        if return_bool:
            values = keep.astype(np.float64)
            present = vec.present
            drop[:] = True
        else:
            values = vec.values
            present = vec.present & keep
    return build(vec.labels, values, present, drop)


def _signature(labels: Labels, matching: VectorMatching) -> Labels:
    if matching.on:
        return keep_only(labels, matching.labels)
    return drop_these(labels, (*matching.labels, METRIC_NAME))


def _sig_index(
    lhs: StepVector, rhs: StepVector, matching: VectorMatching
) -> tuple[np.ndarray, np.ndarray, list[Labels]]:
    ordinals: dict[Labels, int] = {}
    out = []
    for side in (lhs, rhs):
        idx = np.empty(len(side.labels), dtype=np.int64)
        for i, lbl in enumerate(side.labels):
            idx[i] = ordinals.setdefault(_signature(lbl, matching), len(ordinals))
        out.append(idx)
    return out[0], out[1], list(ordinals)


def _any_by_sig(sig: np.ndarray, present: BoolArray, n_sigs: int) -> BoolArray:
    counts = np.zeros((n_sigs, present.shape[1]), dtype=np.int64)
    np.add.at(counts, sig, present.astype(np.int64))
    return counts > 0


def set_operation(
    op: str, lhs: StepVector, rhs: StepVector, matching: VectorMatching
) -> StepVector:
    """`and`, `or`, `unless` with many-to-many matching on the join signature."""
    sig_l, sig_r, sigs = _sig_index(lhs, rhs, matching)
    n = len(sigs)
    if op == "and":
        present = lhs.present & _any_by_sig(sig_r, rhs.present, n)[sig_l]
        return build(lhs.labels, lhs.values, present, drop_flags(lhs))
    if op == "unless":
        present = lhs.present & ~_any_by_sig(sig_r, rhs.present, n)[sig_l]
        return build(lhs.labels, lhs.values, present, drop_flags(lhs))
    rhs_present = rhs.present & ~_any_by_sig(sig_l, lhs.present, n)[sig_r]
    return build(
        lhs.labels + rhs.labels,
        np.vstack([lhs.values, rhs.values]),
        np.vstack([lhs.present, rhs_present]),
        np.concatenate([drop_flags(lhs), drop_flags(rhs)]),
    )


def _check_one_side(
    one: StepVector, sig: np.ndarray, n_sigs: int, matching: VectorMatching, side: str
) -> None:
    counts = np.zeros((n_sigs, one.present.shape[1]), dtype=np.int64)
    np.add.at(counts, sig, one.present.astype(np.int64))
    bad = counts > 1
    if not bad.any():
        return
    step = int(np.flatnonzero(bad.any(axis=0))[0])
    s = int(np.flatnonzero(bad[:, step])[0])
    rows = [i for i in np.flatnonzero(sig == s) if one.present[i, step]]
    first, second = one.labels[rows[0]], one.labels[rows[1]]
    if matching.on:
        matched = keep_only(second, matching.labels)
    else:
        matched = drop_these(second, (*matching.labels, METRIC_NAME))
    raise QueryExecutionError(
        f"found duplicate series for the match group {format_labels_go(matched)} on the {side} "
        f"hand-side of the operation: [{format_labels_go(second)}, {format_labels_go(first)}]"
        ";many-to-many matching not allowed: matching labels must be unique on one side"
    )


def _result_labels(
    many: Labels, one: Labels, op: str, matching: VectorMatching, one_to_one: bool
) -> Labels:
    out = without_name(many) if op in ARITHMETIC else many
    if one_to_one:
        out = keep_only(out, matching.labels) if matching.on else drop_these(out, matching.labels)
    for name in matching.include:
        value = next((v for k, v in one if k == name), "")
        out = with_label(out, name, value)
    return out


def vector_vector(
    op: str, lhs: StepVector, rhs: StepVector, matching: VectorMatching, return_bool: bool
) -> StepVector:
    """Arithmetic or comparison between two vectors with one-to-one or grouped matching."""
    n_steps = lhs.present.shape[1]
    if len(lhs) == 0 or len(rhs) == 0:
        return StepVector.empty(n_steps)
    swapped = matching.card == "one-to-many"
    many, one = (rhs, lhs) if swapped else (lhs, rhs)
    sig_m, sig_o, sigs = _sig_index(many, one, matching)
    n_sigs = len(sigs)
    _check_one_side(one, sig_o, n_sigs, matching, "left" if swapped else "right")
    one_to_one = matching.card == "one-to-one"
    one_any = _any_by_sig(sig_o, one.present, n_sigs)
    if one_to_one:
        counts = np.zeros((n_sigs, n_steps), dtype=np.int64)
        np.add.at(counts, sig_m, (many.present & one_any[sig_m]).astype(np.int64))
        if (counts > 1).any():
            raise QueryExecutionError(
                "multiple matches for labels: many-to-one matching must be explicit "
                "(group_left/group_right)"
            )
    by_sig: dict[int, list[int]] = {}
    for j, s in enumerate(sig_o):
        by_sig.setdefault(int(s), []).append(j)
    pair_m: list[int] = []
    pair_o: list[int] = []
    for i, s in enumerate(sig_m):
        for j in by_sig.get(int(s), ()):
            pair_m.append(i)
            pair_o.append(j)
    if not pair_m:
        return StepVector.empty(n_steps)
    pm = np.asarray(pair_m, dtype=np.int64)
    po = np.asarray(pair_o, dtype=np.int64)
    both = many.present[pm] & one.present[po]
    vl, vr = (one.values[po], many.values[pm]) if swapped else (many.values[pm], one.values[po])
    if op in ARITHMETIC:
        values = arith(op, vl, vr)
        keep = both
    else:
        hit = compare(op, vl, vr)
        if return_bool:
            values, keep = hit.astype(np.float64), both
        else:
            values, keep = vl, both & hit
    labels = [
        _result_labels(many.labels[i], one.labels[j], op, matching, one_to_one)
        for i, j in zip(pair_m, pair_o, strict=True)
    ]
    if not one_to_one:
        _check_grouping(labels, pm, sig_m, both.copy())
    drop = np.full(len(labels), return_bool, dtype=bool)
    return build(labels, values, keep, drop)


def _check_grouping(
    labels: list[Labels], pm: np.ndarray, sig_m: np.ndarray, both: BoolArray
) -> None:
    seen: dict[tuple[int, Labels], int] = {}
    for k, lbl in enumerate(labels):
        key = (int(sig_m[pm[k]]), lbl)
        prev = seen.get(key)
        if prev is None:
            seen[key] = k
        elif (both[prev] & both[k]).any():
            raise QueryExecutionError(
                "multiple matches for labels: grouping labels must ensure unique matches"
            )
        else:
            both[prev] |= both[k]
