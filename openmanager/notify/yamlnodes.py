"""YAML loading that remembers line numbers, so configuration errors can name file and line."""

from __future__ import annotations

from typing import Any

import yaml


class LineDict(dict[str, Any]):
    """A mapping that knows its own line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict[str, int]


class LineList(list[Any]):
    """A sequence that knows its line (1-based)."""

    line: int = 0


class _Loader(yaml.SafeLoader):
    """SafeLoader building LineDict/LineList and rejecting duplicate keys, as Go's yaml.v2 does."""


def _mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    out = LineDict()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        key = "" if key is None else str(key)
        line = key_node.start_mark.line + 1
        if key in out:
            raise yaml.MarkedYAMLError(
                problem=f"line {line}: key {key!r} already set in map",
                problem_mark=key_node.start_mark,
            )
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = line
    return out


def _sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    out = LineList(loader.construct_object(n, deep=True) for n in node.value)
    out.line = node.start_mark.line + 1
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)


def load(text: str) -> Any:
    """Parse one YAML document into LineDict/LineList/scalars (raises yaml.YAMLError)."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


def line_of(parent: Any, key: str | None = None) -> int:
    """Line of `key` in a LineDict, else of the container itself, else 0."""
    if isinstance(parent, LineDict) and key is not None and key in parent.key_lines:
        return parent.key_lines[key]
    return int(getattr(parent, "line", 0))
