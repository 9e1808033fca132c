"""Aggregation operators (`sum avg min max count group stddev stdvar quantile topk bottomk
limitk limit_ratio count_values`) with `by`/`without`, over all steps at once.

Series are grouped once; the running aggregates are updated one input series at a time, each
update vectorised across steps, so results follow Prometheus's order-dependent float rules
(Kahan-compensated sums, incremental mean on overflow, Welford variance).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from openmanager.promql.errors import QueryExecutionError
from openmanager.promql.types import BoolArray, StepScalar, StepVector
from openmanager.promql.vector import build, drop_flags, drop_these, keep_only, with_label
from openmanager.promql.xxhash64 import labels_hash
from openmanager.samples import METRIC_NAME, Float64Array, Labels

SELECTING = frozenset({"topk", "bottomk", "limitk", "limit_ratio"})


def group_key(labels: Labels, grouping: Sequence[str], without: bool) -> Labels:
    """The output labels of a series' group (`without` always drops `__name__`)."""
    if without:
        return drop_these(labels, (*grouping, METRIC_NAME))
    return keep_only(labels, grouping)


def _groups(
    labels: Sequence[Labels], grouping: Sequence[str], without: bool
) -> tuple[np.ndarray, list[Labels]]:
    index: dict[Labels, int] = {}
    g = np.empty(len(labels), dtype=np.int64)
    for i, lbl in enumerate(labels):
        g[i] = index.setdefault(group_key(lbl, grouping, without), len(index))
    return g, list(index)


def _kahan_inc(
    inc: Float64Array, s: Float64Array, c: Float64Array
) -> tuple[Float64Array, Float64Array]:
    with np.errstate(invalid="ignore", over="ignore"):
        t = s + inc
        big = np.abs(s) >= np.abs(inc)
        c2 = c + np.where(big, (s - t) + inc, (inc - t) + s)
        c2 = np.where(np.isinf(t), 0.0, c2)
    return t, c2


def aggregate(
    op: str,
    vec: StepVector,
    grouping: Sequence[str],
    without: bool,
    param: StepScalar | None,
) -> StepVector:
    """Apply one aggregation operator (not count_values) to a vector."""
    n_steps = vec.present.shape[1]
    if len(vec) == 0:
        return StepVector.empty(n_steps)
    g, keys = _groups(vec.labels, grouping, without)
    if op in SELECTING:
        return _select(op, vec, g, len(keys), param)
    n_groups = len(keys)
    seen = np.zeros((n_groups, n_steps), dtype=bool)
    count = np.zeros((n_groups, n_steps))
    value = np.zeros((n_groups, n_steps))
    comp = np.zeros((n_groups, n_steps))
    mean = np.zeros((n_groups, n_steps))
    incremental = np.zeros((n_groups, n_steps), dtype=bool)
    drops = np.zeros(n_groups, dtype=bool)
    flags = drop_flags(vec)
    with np.errstate(all="ignore"):
        for i in range(len(vec)):
            k = g[i]
            p = vec.present[i]
            f = vec.values[i]
            drops[k] |= flags[i]
            new = p & ~seen[k]
            upd = p & seen[k]
            count[k] += p
            if op in ("sum", "avg"):
                if op == "avg":
                    _avg_update(k, f, new, upd, count, value, comp, mean, incremental)
                else:
                    value[k] = np.where(new, f, value[k])
                    s, c = _kahan_inc(f, value[k], comp[k])
                    value[k] = np.where(upd, s, value[k])
                    comp[k] = np.where(upd, c, comp[k])
            elif op in ("min", "max"):
                cur = value[k]
                better = (cur > f) if op == "min" else (cur < f)
                take = new | (upd & (better | np.isnan(cur)))
                value[k] = np.where(take, f, cur)
            elif op in ("stddev", "stdvar"):
                init = np.where(np.isfinite(f), 0.0, np.nan)
                value[k] = np.where(new, init, value[k])
                mean[k] = np.where(new, f, mean[k])
                delta = f - mean[k]
                m2 = mean[k] + delta / count[k]
                v2 = value[k] + delta * (f - m2)
                mean[k] = np.where(upd, m2, mean[k])
                value[k] = np.where(upd, v2, value[k])
            seen[k] |= p
        result = _finish(op, vec, g, n_groups, seen, count, value, comp, mean, incremental, param)
    return build(keys, result, seen, drops)


def _avg_update(
    k: int,
    f: Float64Array,
    new: BoolArray,
    upd: BoolArray,
    count: Float64Array,
    value: Float64Array,
    comp: Float64Array,
    mean: Float64Array,
    incremental: BoolArray,
) -> None:
    value[k] = np.where(new, f, value[k])
    mean[k] = np.where(new, f, mean[k])
    comp[k] = np.where(new, 0.0, comp[k])
    incremental[k] &= ~new
    direct = upd & ~incremental[k]
    s, c = _kahan_inc(f, value[k], comp[k])
    ok = direct & ~np.isinf(s)
    value[k] = np.where(ok, s, value[k])
    comp[k] = np.where(ok, c, comp[k])
    switch = direct & np.isinf(s)
    n = count[k]
    mean[k] = np.where(switch, value[k] / (n - 1), mean[k])
    comp[k] = np.where(switch, comp[k] / (n - 1), comp[k])
    incremental[k] |= switch
    step = upd & incremental[k]
    q = (n - 1) / n
    m, c2 = _kahan_inc(f / n, q * mean[k], q * comp[k])
    mean[k] = np.where(step, m, mean[k])
    comp[k] = np.where(step, c2, comp[k])


def _finish(
    op: str,
    vec: StepVector,
    g: np.ndarray,
    n_groups: int,
    seen: BoolArray,
    count: Float64Array,
    value: Float64Array,
    comp: Float64Array,
    mean: Float64Array,
    incremental: BoolArray,
    param: StepScalar | None,
) -> Float64Array:
    if op == "sum":
        return value + comp
    if op == "avg":
        return np.where(incremental, mean + comp, value / count + comp / count)
    if op == "count":
        return count
    if op == "group":
        return np.ones_like(value)
    if op == "stdvar":
        return value / count
    if op == "stddev":
        return np.sqrt(value / count)
    if op in ("min", "max"):
        return value
    if op == "quantile":
        if param is None:
            raise QueryExecutionError("quantile needs a parameter")
        out = np.full_like(value, np.nan)
        for k in range(n_groups):
            rows = np.flatnonzero(g == k)
            out[k] = quantile_columns(vec.values[rows], vec.present[rows], param.values)
        return out
    raise QueryExecutionError(f"unsupported aggregation {op!r}")


def quantile_columns(values: Float64Array, present: BoolArray, q: Float64Array) -> Float64Array:
    """Prometheus's `quantile` per column over present values (NaNs sort first)."""
    n = present.sum(axis=0).astype(np.float64)
    nan = (present & np.isnan(values)).sum(axis=0)
    sortable = np.where(present & ~np.isnan(values), values, np.inf)
    ordered = np.sort(sortable, axis=0)
    with np.errstate(invalid="ignore"):
        rank = q * (n - 1)
        lo = np.maximum(0.0, np.floor(rank))
        hi = np.minimum(n - 1, lo + 1)
        weight = rank - np.floor(rank)
    lo_i = np.nan_to_num(lo, nan=0).astype(np.int64)
    hi_i = np.nan_to_num(hi, nan=0).astype(np.int64)

    def at(pos: np.ndarray) -> Float64Array:
        idx = np.clip(pos - nan, 0, max(ordered.shape[0] - 1, 0))
        got = np.take_along_axis(ordered, idx[np.newaxis, :], axis=0)[0]
        return np.where(pos < nan, np.nan, got)

    with np.errstate(invalid="ignore"):
        res = at(lo_i) * (1 - weight) + at(hi_i) * weight
    res = np.where(q < 0, -np.inf, res)
    res = np.where(q > 1, np.inf, res)
    return np.where(np.isnan(q), np.nan, res)


def _select(
    op: str, vec: StepVector, g: np.ndarray, n_groups: int, param: StepScalar | None
) -> StepVector:
    if param is None:
        raise QueryExecutionError(f"{op} needs a parameter")
    p = param.values
    n, n_steps = vec.present.shape
    if op == "limit_ratio":
        if np.isnan(p).any():
            raise QueryExecutionError("Ratio value is NaN")
        r = np.clip(p, -1.0, 1.0)
        offsets = np.array([labels_hash(lbl) / float(2**64 - 1) for lbl in vec.labels])
        o = offsets[:, np.newaxis]
        pick = ((r >= 0) & (o < r)) | ((r < 0) & (o >= 1.0 + r))
        chosen = vec.present & pick & (r != 0)
        return build(vec.labels, vec.values, chosen, drop_flags(vec))
    if np.isnan(p).any():
        raise QueryExecutionError("Parameter value is NaN")
    if (p <= -(2.0**63)).any():
        raise QueryExecutionError(f"Scalar value {p.min():g} underflows int64")
    if (p >= 2.0**63).any():
        raise QueryExecutionError(f"Scalar value {p.max():g} overflows int64")
    k = np.trunc(p)
    rank = np.zeros((n, n_steps), dtype=np.int64)
    rows = np.arange(n)
    for grp in range(n_groups):
        members = np.flatnonzero(g == grp)
        sub_p = vec.present[members]
        if op == "limitk":
            rank[members] = np.cumsum(sub_p, axis=0) - 1
            continue
        sub_v = vec.values[members]
        isnan = np.isnan(sub_v)
        if op == "topk":
            cls = np.where(~sub_p, 2, np.where(isnan, 1, 0))
            val = np.where(sub_p & ~isnan, -sub_v, 0.0)
        else:
            cls = np.where(~sub_p, 2, np.where(isnan, 1, 0))
            val = np.where(sub_p & ~isnan, sub_v, 0.0)
        idx = np.broadcast_to(rows[members][:, np.newaxis], sub_v.shape)
        order = np.lexsort((idx, val, cls), axis=0)
        r = np.empty_like(order)
        np.put_along_axis(
            r, order, np.arange(len(members))[:, np.newaxis].repeat(n_steps, 1), axis=0
        )
        rank[members] = r
    chosen = vec.present & (rank < k[np.newaxis, :])
    out = build(vec.labels, vec.values, chosen, drop_flags(vec))
    if n_steps == 1 and op in ("topk", "bottomk") and len(out):
        out = _order_instant(out, g, vec, rank)
    return out


def _order_instant(out: StepVector, g: np.ndarray, vec: StepVector, rank: np.ndarray) -> StepVector:
    """Instant topk/bottomk list each group's series best first, groups in input order."""
    pos = {lbl: i for i, lbl in enumerate(vec.labels)}
    keyed = sorted(
        range(len(out.labels)),
        key=lambda i: (g[pos[out.labels[i]]], rank[pos[out.labels[i]], 0]),
    )
    from openmanager.promql.vector import select_rows

    return select_rows(out, keyed)


def format_value(f: float) -> str:
    """A float as Go's strconv.FormatFloat(f, 'f', -1, 64) writes it (count_values labels)."""
    if np.isnan(f):
        return "NaN"
    if np.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    return np.format_float_positional(f, unique=True, trim="-")


def count_values(label: str, vec: StepVector, grouping: Sequence[str], without: bool) -> StepVector:
    """count_values: one output series per group and distinct value, counting series per step."""
    n_steps = vec.present.shape[1]
    if len(vec) == 0:
        return StepVector.empty(n_steps)
    grouping = tuple(grouping) if without else (*grouping, label)
    vals = vec.values[vec.present]
    uniq = np.unique(vals[~np.isnan(vals)]).tolist()
    if np.isnan(vals).any():
        uniq.append(float("nan"))
    keys: dict[Labels, int] = {}
    rows: list[Float64Array] = []
    for u in uniq:
        hit = vec.present & (np.isnan(vec.values) if np.isnan(u) else vec.values == u)
        text = format_value(float(u))
        for i in np.flatnonzero(hit.any(axis=1)):
            key = group_key(with_label(vec.labels[i], label, text), grouping, without)
            slot = keys.get(key)
            if slot is None:
                keys[key] = slot = len(rows)
                rows.append(np.zeros(n_steps))
            rows[slot] += hit[i]
    counts = np.vstack(rows) if rows else np.zeros((0, n_steps))
    return build(list(keys), counts, counts > 0, np.zeros(len(keys), dtype=bool))
