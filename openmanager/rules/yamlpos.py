"""YAML read with line numbers, strict the way Go's yaml.v3 is (duplicate keys are errors).

Rule-file validation reports `file:line: reason`, so values keep the line they came from.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml


class YamlError(Exception):
    """The document is not well-formed YAML (or has a duplicate key); `line` is 1-based."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


@dataclass
class Node:
    """A YAML node: `kind` is map, seq or scalar; scalars keep their text and tag."""

    kind: str
    line: int
    value: str = ""
    tag: str = ""
    items: list[Node] | None = None
    pairs: list[tuple[Node, Node]] | None = None

    @property
    def is_null(self) -> bool:
        return self.kind == "scalar" and self.tag.endswith(":null")

    def type_name(self) -> str:
        """Go yaml's name of the node's type (`!!seq`, `!!map`, `!!str`...)."""
        if self.kind == "map":
            return "!!map"
        if self.kind == "seq":
            return "!!seq"
        return "!!" + self.tag.rsplit(":", 1)[-1]


def _convert(node: yaml.Node) -> Node:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        pairs: list[tuple[Node, Node]] = []
        seen: dict[str, int] = {}
        for k, v in node.value:
            key = _convert(k)
            if key.kind == "scalar":
                if key.value in seen:
                    raise YamlError(
                        key.line,
                        f'mapping key "{key.value}" already defined at line {seen[key.value]}',
                    )
                seen[key.value] = key.line
            pairs.append((key, _convert(v)))
        return Node("map", line, tag=node.tag, pairs=pairs)
    if isinstance(node, yaml.SequenceNode):
        return Node("seq", line, tag=node.tag, items=[_convert(n) for n in node.value])
    assert isinstance(node, yaml.ScalarNode)
    return Node("scalar", line, value=str(node.value), tag=node.tag)


def load(text: str) -> Node | None:
    """The first YAML document as a `Node` tree (None when the text holds no document)."""
    try:
        docs = yaml.compose_all(text, Loader=yaml.SafeLoader)
        first = next(iter(docs), None)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise YamlError(line, str(exc.problem or exc)) from exc
    except yaml.YAMLError as exc:
        raise YamlError(1, str(exc)) from exc
    if first is None:
        return None
    # yaml.compose_all resolves tags; null scalars keep the null tag.
    return _convert(first)
