"""The evaluator's own PromQL syntax tree: small frozen dataclasses built from promql-parser's AST.

Keeping our own nodes decouples evaluation from the parser binding and gives every node the
values the evaluator needs in milliseconds (offsets, ranges, `@` times) and ready-made matchers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from openmanager.promql.types import ValueType
from openmanager.tsdb.matchers import Matcher


class AtKind(StrEnum):
    """What an `@` modifier pins evaluation to."""

    TIME = "time"
    START = "start"
    END = "end"


@dataclass(frozen=True)
class At:
    """An `@` modifier: a fixed time in ms, or the query's start()/end()."""

    kind: AtKind
    time_ms: int = 0

    def resolve(self, start_ms: int, end_ms: int) -> int:
        """The pinned time for a query running from start_ms to end_ms."""
        if self.kind is AtKind.START:
            return start_ms
        if self.kind is AtKind.END:
            return end_ms
        return self.time_ms


@dataclass(frozen=True)
class Node:
    """Base of all expression nodes."""

    @property
    def type(self) -> ValueType:
        raise NotImplementedError


@dataclass(frozen=True)
class NumberLiteral(Node):
    value: float

    @property
    def type(self) -> ValueType:
        return ValueType.SCALAR


@dataclass(frozen=True)
class StringLiteral(Node):
    value: str

    @property
    def type(self) -> ValueType:
        return ValueType.STRING


@dataclass(frozen=True)
class VectorSelector(Node):
    """`name{matchers} offset o @ t`; `matchers` already include the `__name__` one."""

    matchers: tuple[Matcher, ...]
    offset_ms: int = 0
    at: At | None = None
    name: str | None = None

    @property
    def type(self) -> ValueType:
        return ValueType.VECTOR


@dataclass(frozen=True)
class MatrixSelector(Node):
    selector: VectorSelector
    range_ms: int

    @property
    def type(self) -> ValueType:
        return ValueType.MATRIX


@dataclass(frozen=True)
class Subquery(Node):
    expr: Node
    range_ms: int
    step_ms: int
    """0 when the step was omitted (the engine's default resolution applies)."""
    offset_ms: int = 0
    at: At | None = None

    @property
    def type(self) -> ValueType:
        return ValueType.MATRIX


@dataclass(frozen=True)
class Paren(Node):
    expr: Node

    @property
    def type(self) -> ValueType:
        return self.expr.type


@dataclass(frozen=True)
class Unary(Node):
    """Unary minus (unary plus is dropped by the parser)."""

    expr: Node

    @property
    def type(self) -> ValueType:
        return self.expr.type


@dataclass(frozen=True)
class VectorMatching:
    """`on`/`ignoring` and `group_left`/`group_right` of a vector-vector operation."""

    card: str = "one-to-one"
    """one-to-one, many-to-one (group_left), one-to-many (group_right) or many-to-many."""
    on: bool = False
    labels: tuple[str, ...] = ()
    include: tuple[str, ...] = ()


@dataclass(frozen=True)
class Binary(Node):
    op: str
    lhs: Node
    rhs: Node
    return_bool: bool = False
    matching: VectorMatching = field(default_factory=VectorMatching)

    @property
    def type(self) -> ValueType:
        if self.lhs.type is ValueType.SCALAR and self.rhs.type is ValueType.SCALAR:
            return ValueType.SCALAR
        return ValueType.VECTOR


@dataclass(frozen=True)
class Aggregate(Node):
    op: str
    expr: Node
    param: Node | None = None
    grouping: tuple[str, ...] = ()
    without: bool = False

    @property
    def type(self) -> ValueType:
        return ValueType.VECTOR


@dataclass(frozen=True)
class Call(Node):
    func: str
    args: tuple[Node, ...]
    return_type: ValueType = ValueType.VECTOR

    @property
    def type(self) -> ValueType:
        return self.return_type


def children(node: Node) -> tuple[Node, ...]:
    """Direct sub-expressions of a node."""
    if isinstance(node, MatrixSelector):
        return (node.selector,)
    if isinstance(node, Subquery | Paren | Unary):
        return (node.expr,)
    if isinstance(node, Binary):
        return (node.lhs, node.rhs)
    if isinstance(node, Aggregate):
        return (node.expr,) if node.param is None else (node.param, node.expr)
    if isinstance(node, Call):
        return node.args
    return ()


def unwrap_parens(node: Node) -> Node:
    """The node without surrounding parentheses."""
    while isinstance(node, Paren):
        node = node.expr
    return node
