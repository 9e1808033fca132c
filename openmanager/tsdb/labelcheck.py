"""Validation of a new series' labels before the head admits it (once per series, not per sample)."""

from __future__ import annotations

import re

from openmanager.errors import InvalidInput
from openmanager.samples import METRIC_NAME, Labels

LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
METRIC_NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
MAX_LABELS = 256


def describe(labels: object) -> str:
    """A readable rendering of a possibly malformed label set, for error messages."""
    try:
        pairs = [(str(k), str(v)) for k, v in labels]  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        return repr(labels)[:200]
    name = next((v for k, v in pairs if k == METRIC_NAME), "")
    rest = ",".join(f"{k}={v!r}" for k, v in pairs if k != METRIC_NAME)
    return f"{name}{{{rest}}}"[:300]


def canonical_labels(labels: object) -> Labels:
    """The canonical (sorted, empty values dropped) form of `labels`, or InvalidInput naming it."""
    if not isinstance(labels, tuple | list):
        raise InvalidInput(f"series {describe(labels)}: labels must be a sequence of pairs")
    if len(labels) > MAX_LABELS:
        raise InvalidInput(f"series {describe(labels)}: more than {MAX_LABELS} labels")
    pairs: dict[str, str] = {}
    for item in labels:
        if not isinstance(item, tuple | list) or len(item) != 2:
            raise InvalidInput(f"series {describe(labels)}: label {item!r} is not a (name, value)")
        name, value = item
        if not isinstance(name, str) or name not in _valid_names and not _check_name(name):
            raise InvalidInput(
                f"series {describe(labels)}: invalid label name {name!r} "
                "(must match [a-zA-Z_][a-zA-Z0-9_]*)"
            )
        if not isinstance(value, str):
            raise InvalidInput(
                f"series {describe(labels)}: value of label {name!r} is {value!r}, not a string"
            )
        if name in pairs:
            raise InvalidInput(f"series {describe(labels)}: duplicate label name {name!r}")
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise InvalidInput(
                    f"series {describe(labels)}: value of label {name!r} is not valid UTF-8"
                ) from exc
        pairs[name] = value
    metric = pairs.get(METRIC_NAME, "")
    if not metric:
        raise InvalidInput(f"series {describe(labels)}: empty or missing metric name")
    if metric not in _valid_metrics:
        if not METRIC_NAME_RE.fullmatch(metric):
            raise InvalidInput(
                f"series {describe(labels)}: invalid metric name {metric!r} "
                "(must match [a-zA-Z_:][a-zA-Z0-9_:]*)"
            )
        _remember(_valid_metrics, metric)
    return tuple(sorted(p for p in pairs.items() if p[1]))


_CACHE_MAX = 100_000
_valid_names: set[str] = set()
_valid_metrics: set[str] = set()
"""Names already checked (bounded), so a new series with familiar names skips the regexes."""


def _remember(cache: set[str], name: str) -> None:
    if len(cache) < _CACHE_MAX:
        cache.add(name)


def _check_name(name: str) -> bool:
    if LABEL_NAME_RE.fullmatch(name) is None:
        return False
    _remember(_valid_names, name)
    return True
