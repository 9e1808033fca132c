"""`label_replace` and `label_join`: rewrite one label of every series, then merge series that
ended up with the same labels (an error when they both have a value at the same step).

Regexes are RE2 syntax as in Prometheus, fully anchored; replacement templates follow Go's
`Regexp.Expand` (`$1`, `${1}`, `$name`, `${name}`, `$$`; `$1x` names the group `1x`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from openmanager.promql.errors import QueryExecutionError
from openmanager.promql.functions import register
from openmanager.promql.functions._common import finish, string_arg, vector_arg
from openmanager.promql.types import EvalContext, FunctionDef, StepVector, Value, ValueType
from openmanager.samples import METRIC_NAME, Labels, labels_get

_V, _STR = ValueType.VECTOR, ValueType.STRING
_NAMED_GROUP = re.compile(r"\(\?<(?![=!])")
_WORD = re.compile(r"[^\W]+")


def _valid_label_name(name: str) -> bool:
    """Prometheus 3's UTF-8 label names: any non-empty valid UTF-8 string."""
    if not name:
        return False
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def compile_regex(regex: str) -> re.Pattern[str]:
    """Compile an RE2 regex for full-string matching (Go's `(?<name>` becomes `(?P<name>`)."""
    try:
        return re.compile("(?s:" + _NAMED_GROUP.sub("(?P<", regex) + ")")
    except re.error as exc:
        raise QueryExecutionError(
            f"invalid regular expression in label_replace(): {regex}"
        ) from exc


def expand(template: str, match: re.Match[str]) -> str:
    """Go's `Regexp.ExpandString`: substitute group references in `template`."""
    out: list[str] = []
    rest = template
    while True:
        before, sep, after = rest.partition("$")
        out.append(before)
        if not sep:
            return "".join(out)
        rest = after
        if rest.startswith("$"):
            out.append("$")
            rest = rest[1:]
            continue
        ref = _extract(rest)
        if ref is None:
            out.append("$")  # malformed reference: the '$' stays as text
            continue
        name, rest = ref
        out.append(_group(match, name))


def _extract(s: str) -> tuple[str, str] | None:
    """A group name after '$' (braced or not) and the text after it, or None if malformed."""
    brace = s.startswith("{")
    body = s[1:] if brace else s
    m = _WORD.match(body)
    if m is None:
        return None
    name = m.group(0)
    after = body[len(name) :]
    if brace:
        if not after.startswith("}"):
            return None
        after = after[1:]
    return name, after


def _group(match: re.Match[str], name: str) -> str:
    if name.isascii() and name.isdigit():
        if len(name) > 1 and name[0] == "0" or len(name) > 9:
            return ""  # Go refuses leading zeros (and absurdly large numbers)
        num = int(name)
        if num > (match.re.groups or 0):
            return ""
        return match.group(num) or ""
    if name in match.re.groupindex:
        return match.group(name) or ""
    return ""


def _with_label(labels: Labels, name: str, value: str) -> Labels:
    """labels with `name` set to value (removed when value is empty), still sorted."""
    items = [(k, v) for k, v in labels if k != name]
    if value:
        items.append((name, value))
    return tuple(sorted(items))


def _merge_same_labels(
    vec: StepVector, new_labels: list[Labels], renamed: list[bool]
) -> StepVector:
    """Replace the labels and merge series that now coincide (Prometheus's
    mergeSeriesWithSameLabelset); overlapping values are an error."""
    n_steps = vec.values.shape[1]
    drop = None if vec.drop_name is None else vec.drop_name.copy()
    if drop is not None:
        drop[np.asarray(renamed, dtype=bool)] = False
    groups: dict[Labels, list[int]] = {}
    for i, lab in enumerate(new_labels):
        groups.setdefault(lab, []).append(i)
    if len(groups) == len(new_labels):
        return finish(new_labels, vec.values, vec.present, n_steps, drop)
    labels: list[Labels] = []
    rows_v, rows_p, keep_drop = [], [], []
    for lab, rows in groups.items():
        pres = vec.present[rows]
        if (pres.sum(axis=0) > 1).any():
            raise QueryExecutionError("vector cannot contain metrics with the same labelset")
        labels.append(lab)
        rows_p.append(pres.any(axis=0))
        rows_v.append(np.where(pres, vec.values[rows], 0.0).sum(axis=0))
        keep_drop.append(rows[0])
    out_drop = None if drop is None else drop[keep_drop]
    return finish(labels, np.vstack(rows_v), np.vstack(rows_p), n_steps, out_drop)


def _label_replace(ctx: EvalContext, args: Sequence[Value]) -> Value:
    vec = vector_arg(args, 0)
    dst, repl, src, regex = (string_arg(args, i) for i in range(1, 5))
    pattern = compile_regex(regex)
    if not _valid_label_name(dst):
        raise QueryExecutionError(f"invalid destination label name in label_replace(): {dst}")
    new_labels: list[Labels] = []
    renamed: list[bool] = []
    for labels in vec.labels:
        m = pattern.fullmatch(labels_get(labels, src))
        if m is None:
            new_labels.append(labels)
            renamed.append(False)
            continue
        new_labels.append(_with_label(labels, dst, expand(repl, m)))
        renamed.append(dst == METRIC_NAME)
    return _merge_same_labels(vec, new_labels, renamed)


def _label_join(ctx: EvalContext, args: Sequence[Value]) -> Value:
    vec = vector_arg(args, 0)
    dst, sep = string_arg(args, 1), string_arg(args, 2)
    sources = [string_arg(args, i) for i in range(3, len(args))]
    for src in sources:
        if not _valid_label_name(src):
            raise QueryExecutionError(f"invalid source label name in label_join(): {src}")
    if not _valid_label_name(dst):
        raise QueryExecutionError(f"invalid destination label name in label_join(): {dst}")
    new_labels = [
        _with_label(labels, dst, sep.join(labels_get(labels, s) for s in sources))
        for labels in vec.labels
    ]
    return _merge_same_labels(vec, new_labels, [dst == METRIC_NAME] * len(new_labels))


register(
    FunctionDef("label_replace", (_V, _STR, _STR, _STR, _STR), _V, _label_replace, keeps_name=True)
)
register(
    FunctionDef(
        "label_join", (_V, _STR, _STR, _STR), _V, _label_join, variadic=True, keeps_name=True
    )
)
