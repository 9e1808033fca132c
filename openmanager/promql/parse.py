"""Adapter from the `promql_parser` package's AST to our own nodes (`openmanager.promql.ast`).

promql-parser does the lexing, precedence and static type checks; this module turns its nodes
into plain dataclasses with millisecond durations and our `Matcher`s, and maps its errors to
`InvalidInput` with Prometheus's `parse error:` wording.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import promql_parser as pp

from openmanager.errors import InvalidInput
from openmanager.promql import ast
from openmanager.promql.re2compat import re2_to_python
from openmanager.promql.types import ValueType
from openmanager.tsdb.matchers import Matcher, MatchType

_MS = timedelta(milliseconds=1)
_AT_REPR = re.compile(r"At\(\s*SystemTime\s*\{\s*tv_sec:\s*(-?\d+),\s*tv_nsec:\s*(\d+)")

_MATCH_OPS = {
    "Equal": MatchType.EQ,
    "NotEqual": MatchType.NEQ,
    "Re": MatchType.RE,
    "NotRe": MatchType.NRE,
}
_VALUE_TYPES = {
    "Vector": ValueType.VECTOR,
    "Matrix": ValueType.MATRIX,
    "Scalar": ValueType.SCALAR,
    "String": ValueType.STRING,
}
_CARD = {
    "OneToOne": "one-to-one",
    "ManyToOne": "many-to-one",
    "OneToMany": "one-to-many",
    "ManyToMany": "many-to-many",
}


MAX_DURATION_MS = (2**63 - 1) // 1_000_000
"""Go's time.Duration limit (~292 years): longer ranges, offsets and steps are parse errors."""

_TYPE_WORDS = (
    (re.compile(r"\b(type|got) matrix\b"), r"\1 range vector"),
    (re.compile(r"\b(type|got) vector\b"), r"\1 instant vector"),
    (re.compile(r"'([^'\s]*)'"), r'"\1"'),
)


def prometheus_message(message: str) -> str:
    """promql-parser's error text in Prometheus's words (type names, double-quoted names)."""
    for pattern, repl in _TYPE_WORDS:
        message = pattern.sub(repl, message)
    return message


def parse_raw(text: str) -> Any:
    """The `promql_parser` tree of a query; raises InvalidInput('parse error: ...')."""
    if not text.strip():
        raise InvalidInput("parse error: no expression found in input")
    try:
        return pp.parse(text)
    except ValueError as exc:
        raise InvalidInput(f"parse error: {prometheus_message(str(exc))}") from exc
    except OverflowError as exc:
        raise InvalidInput("parse error: duration out of range") from exc


def parse_expr(text: str) -> ast.Node:
    """Parse a PromQL expression; raises InvalidInput('parse error: ...') when it is malformed."""
    return convert(parse_raw(text))


def format_expr(text: str) -> str:
    """The query in Prometheus's canonical formatting (what `/api/v1/format_query` returns)."""
    return str(parse_raw(text).prettify())


def duration_ms(td: timedelta | None) -> int:
    """Milliseconds of a parser duration (None is 0); beyond Go's Duration range is an error."""
    if td is None:
        return 0
    ms = td // _MS
    if abs(ms) > MAX_DURATION_MS:
        raise InvalidInput("parse error: duration out of range")
    return ms


def _enum_name(value: object) -> str:
    return str(value).rsplit(".", 1)[-1]


def _at(node: Any, holder: Any) -> ast.At | None:
    """The `@` modifier of a selector or subquery, working around negative-time conversion."""
    mod = holder.at
    if mod is None:
        return None
    kind = _enum_name(mod.type)
    if kind == "Start":
        return ast.At(ast.AtKind.START)
    if kind == "End":
        return ast.At(ast.AtKind.END)
    # Read the time from the node's debug text: the binding's datetime getter panics on
    # times before 1970. The node's own modifier is printed after any nested ones.
    found = _AT_REPR.findall(repr(node))
    if not found:
        raise InvalidInput("parse error: cannot read the @ modifier's timestamp")
    sec, nsec = found[-1]
    return ast.At(ast.AtKind.TIME, int(sec) * 1000 + int(nsec) // 1_000_000)


def _selector(node: Any, raw_node: Any) -> ast.VectorSelector:
    matchers: list[Matcher] = []
    if node.name:
        matchers.append(Matcher("__name__", MatchType.EQ, node.name))
    if node.matchers.or_matchers:
        raise InvalidInput("parse error: 'or' inside label matchers is not supported")
    for m in node.matchers.matchers:
        op = _MATCH_OPS[_enum_name(m.op)]
        value = re2_to_python(m.value) if op in (MatchType.RE, MatchType.NRE) else m.value
        matcher = Matcher(m.name, op, value)
        if matcher.type in (MatchType.RE, MatchType.NRE):
            _ = matcher.regex  # fail early on a bad regex
        matchers.append(matcher)
    return ast.VectorSelector(
        matchers=tuple(matchers),
        offset_ms=duration_ms(node.offset),
        at=_at(raw_node, node),
        name=node.name,
    )


def _matching(mod: Any) -> ast.VectorMatching:
    if mod is None:
        return ast.VectorMatching()
    card = _CARD[_enum_name(mod.card)]
    on, labels = False, ()
    if mod.matching is not None:
        on = _enum_name(mod.matching.type) == "Include"
        labels = tuple(mod.matching.labels)
    fill = getattr(mod, "fill_values", None)
    if fill is not None and (fill.lhs is not None or fill.rhs is not None):
        raise InvalidInput("parse error: fill modifiers are not supported")
    return ast.VectorMatching(card, on, labels, tuple(mod.group_labels or ()))


def convert(node: Any) -> ast.Node:
    """Turn one promql_parser node (recursively) into our AST."""
    if isinstance(node, pp.NumberLiteral):
        return ast.NumberLiteral(float(node.val))
    if isinstance(node, pp.StringLiteral):
        return ast.StringLiteral(node.val)
    if isinstance(node, pp.VectorSelector):
        return _selector(node, node)
    if isinstance(node, pp.MatrixSelector):
        return ast.MatrixSelector(_selector(node.vector_selector, node), duration_ms(node.range))
    if isinstance(node, pp.SubqueryExpr):
        return ast.Subquery(
            expr=convert(node.expr),
            range_ms=duration_ms(node.range),
            step_ms=duration_ms(node.step),
            offset_ms=duration_ms(node.offset),
            at=_at(node, node),
        )
    if isinstance(node, pp.ParenExpr):
        return ast.Paren(convert(node.expr))
    if isinstance(node, pp.UnaryExpr):
        return ast.Unary(convert(node.expr))
    if isinstance(node, pp.BinaryExpr):
        mod = node.modifier
        return ast.Binary(
            op=str(node.op).lower(),
            lhs=convert(node.lhs),
            rhs=convert(node.rhs),
            return_bool=bool(mod.return_bool) if mod is not None else False,
            matching=_matching(mod),
        )
    if isinstance(node, pp.AggregateExpr):
        grouping: tuple[str, ...] = ()
        without = False
        if node.modifier is not None:
            without = _enum_name(node.modifier.type) == "Without"
            grouping = tuple(node.modifier.labels)
        return ast.Aggregate(
            op=str(node.op).lower(),
            expr=convert(node.expr),
            param=None if node.param is None else convert(node.param),
            grouping=grouping,
            without=without,
        )
    if isinstance(node, pp.Call):
        return ast.Call(
            func=node.func.name,
            args=tuple(convert(a) for a in node.args),
            return_type=_VALUE_TYPES[_enum_name(node.func.return_type)],
        )
    raise InvalidInput(f"parse error: unsupported expression {type(node).__name__}")
