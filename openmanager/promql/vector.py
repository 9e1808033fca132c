"""Helpers over `StepVector`: name-drop flags, label editing, and merging series that collide.

Prometheus 3 removes `__name__` late: operators and functions only flag a series, and the name
goes when the query finishes. Collisions (two series with one label set at the same step) are
errors; series that share labels at different steps merge into one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from openmanager.promql.errors import QueryExecutionError
from openmanager.promql.types import BoolArray, StepVector
from openmanager.samples import METRIC_NAME, Float64Array, Labels

DUPLICATE_LABELSET = "vector cannot contain metrics with the same labelset"


def drop_flags(v: StepVector) -> BoolArray:
    """One flag per series: whether its `__name__` goes when the query finishes."""
    if v.drop_name is None:
        return np.zeros(len(v.labels), dtype=bool)
    return v.drop_name


METADATA_LABELS = frozenset({METRIC_NAME, "__type__", "__unit__"})


def without_name(labels: Labels) -> Labels:
    """The labels minus `__name__` (and the `__type__`/`__unit__` metadata labels that go with it)."""
    return tuple(p for p in labels if p[0] not in METADATA_LABELS)


def keep_only(labels: Labels, names: Iterable[str]) -> Labels:
    """Only the listed labels (those present)."""
    keep = set(names)
    return tuple(p for p in labels if p[0] in keep)


def drop_these(labels: Labels, names: Iterable[str]) -> Labels:
    """The labels minus the listed ones."""
    drop = set(names)
    return tuple(p for p in labels if p[0] not in drop)


def with_label(labels: Labels, name: str, value: str) -> Labels:
    """Labels with one label set (removed when value is empty), kept sorted."""
    items = [p for p in labels if p[0] != name]
    if value:
        items.append((name, value))
    return tuple(sorted(items))


def format_labels_go(labels: Labels) -> str:
    """Labels the way Prometheus's `labels.Labels.String()` prints them in error messages."""
    return "{" + ", ".join(f"{k}={_go_quote(v)}" for k, v in labels) + "}"


def _go_quote(value: str) -> str:
    out = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{out}"'


def build(
    labels: Sequence[Labels],
    values: Float64Array,
    present: BoolArray,
    drop: BoolArray,
) -> StepVector:
    """A StepVector from rows, merging rows with equal labels and dropping rows never present."""
    n_steps = values.shape[1] if values.ndim == 2 else 0
    if len(labels) == 0:
        return StepVector.empty(n_steps)
    first: dict[Labels, int] = {}
    dupes = False
    for i, lbl in enumerate(labels):
        if lbl in first:
            dupes = True
        else:
            first[lbl] = i
    if dupes:
        labels, values, present, drop = _merge(labels, values, present, drop, first)
    alive = present.any(axis=1)
    if not alive.all():
        idx = np.flatnonzero(alive)
        labels = [labels[int(i)] for i in idx]
        values, present, drop = values[idx], present[idx], drop[idx]
    return StepVector(list(labels), values, present, None, drop)


def _merge(
    labels: Sequence[Labels],
    values: Float64Array,
    present: BoolArray,
    drop: BoolArray,
    first: dict[Labels, int],
) -> tuple[list[Labels], Float64Array, BoolArray, BoolArray]:
    order = list(first.values())
    slot = {lbl: k for k, lbl in enumerate(first)}
    out_v = values[order].copy()
    out_p = present[order].copy()
    for i, lbl in enumerate(labels):
        k = slot[lbl]
        if order[k] == i:
            continue
        if (out_p[k] & present[i]).any():
            raise QueryExecutionError(DUPLICATE_LABELSET)
        out_v[k] = np.where(present[i], values[i], out_v[k])
        out_p[k] |= present[i]
    return list(first), out_v, out_p, drop[order]


def finalize(v: StepVector) -> StepVector:
    """Apply delayed name removal and reject series that now collide at a step."""
    flags = drop_flags(v)
    if not flags.any():
        return v
    labels = [without_name(lbl) if f else lbl for lbl, f in zip(v.labels, flags, strict=True)]
    return build(labels, v.values, v.present, np.zeros(len(labels), dtype=bool))


def select_rows(v: StepVector, idx: Sequence[int] | np.ndarray) -> StepVector:
    """A StepVector holding only some rows (in the given order)."""
    ix = np.asarray(idx, dtype=np.int64)
    return StepVector(
        [v.labels[i] for i in ix],
        v.values[ix],
        v.present[ix],
        None if v.sample_ts is None else v.sample_ts[ix],
        None if v.drop_name is None else v.drop_name[ix],
    )
