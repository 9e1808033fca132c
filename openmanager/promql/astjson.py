"""A parsed query as the JSON tree Prometheus 3's `/api/v1/parse_query` returns.

Built from the `promql_parser` nodes (not our AST) so matchers keep their original regex text
and the names, field order and value spellings follow Prometheus's `translateAST`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import promql_parser as pp

from openmanager.promql.parse import _AT_REPR, _CARD, _enum_name, duration_ms, parse_raw

_MATCH_TYPES = {"Equal": "=", "NotEqual": "!=", "Re": "=~", "NotRe": "!~"}
_VALUE_TYPES = {"Vector": "vector", "Matrix": "matrix", "Scalar": "scalar", "String": "string"}


def parse_query_json(text: str) -> dict[str, Any]:
    """Parse `text` and return its syntax tree as Prometheus's JSON (raises InvalidInput)."""
    return node_json(parse_raw(text))


def go_float(v: float) -> str:
    """Go's strconv.FormatFloat(v, 'f', -1, 64): shortest exact decimal, never an exponent."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return str(np.format_float_positional(v, unique=True, trim="-"))


def _matchers(sel: Any) -> list[dict[str, str]]:
    out = [
        {"name": m.name, "value": m.value, "type": _MATCH_TYPES[_enum_name(m.op)]}
        for m in sel.matchers.matchers
    ]
    if sel.name:
        out.append({"name": "__name__", "value": sel.name, "type": "="})
    return out


def _at_fields(node: Any, holder: Any) -> dict[str, Any]:
    """`timestamp` (ms, for `@ <time>`) and `startOrEnd` (`start`/`end`) as Prometheus names them."""
    mod = holder.at
    if mod is None:
        return {"timestamp": None, "startOrEnd": None}
    kind = _enum_name(mod.type)
    if kind in ("Start", "End"):
        return {"timestamp": None, "startOrEnd": kind.lower()}
    found = _AT_REPR.findall(repr(node))
    sec, nsec = found[-1] if found else ("0", "0")
    return {"timestamp": int(sec) * 1000 + int(nsec) // 1_000_000, "startOrEnd": None}


def _op(node: Any) -> str:
    text = str(node.op)
    return text.lower() if text.isalpha() else text


def node_json(node: Any) -> dict[str, Any]:
    """One `promql_parser` node (recursively) as Prometheus's JSON object."""
    if isinstance(node, pp.NumberLiteral):
        return {"type": "numberLiteral", "val": go_float(float(node.val))}
    if isinstance(node, pp.StringLiteral):
        return {"type": "stringLiteral", "val": node.val}
    if isinstance(node, pp.VectorSelector):
        return {
            "type": "vectorSelector",
            "name": node.name or "",
            "offset": duration_ms(node.offset),
            "matchers": _matchers(node),
            **_at_fields(node, node),
        }
    if isinstance(node, pp.MatrixSelector):
        vs = node.vector_selector
        return {
            "type": "matrixSelector",
            "name": vs.name or "",
            "range": duration_ms(node.range),
            "offset": duration_ms(vs.offset),
            "matchers": _matchers(vs),
            **_at_fields(node, vs),
        }
    if isinstance(node, pp.SubqueryExpr):
        return {
            "type": "subquery",
            "expr": node_json(node.expr),
            "range": duration_ms(node.range),
            "offset": duration_ms(node.offset),
            "step": duration_ms(node.step),
            **_at_fields(node, node),
        }
    if isinstance(node, pp.ParenExpr):
        return {"type": "parenExpr", "expr": node_json(node.expr)}
    if isinstance(node, pp.UnaryExpr):
        return {"type": "unaryExpr", "op": "-", "expr": node_json(node.expr)}
    if isinstance(node, pp.BinaryExpr):
        return _binary(node)
    if isinstance(node, pp.AggregateExpr):
        grouping: list[str] = []
        without = False
        if node.modifier is not None:
            without = _enum_name(node.modifier.type) == "Without"
            grouping = list(node.modifier.labels)
        return {
            "type": "aggregation",
            "op": _op(node),
            "expr": node_json(node.expr),
            "param": None if node.param is None else node_json(node.param),
            "grouping": grouping,
            "without": without,
        }
    if isinstance(node, pp.Call):
        func = node.func
        return {
            "type": "call",
            "func": {
                "name": func.name,
                "argTypes": [_VALUE_TYPES[_enum_name(t)] for t in func.arg_types],
                "variadic": int(func.variadic),
                "returnType": _VALUE_TYPES[_enum_name(func.return_type)],
            },
            "args": [node_json(a) for a in node.args],
        }
    raise TypeError(f"unsupported node {type(node).__name__}")


def _binary(node: Any) -> dict[str, Any]:
    mod = node.modifier
    matching: dict[str, Any] | None = None
    lhs, rhs = node_json(node.lhs), node_json(node.rhs)
    both_vectors = _is_vector(node.lhs) and _is_vector(node.rhs)
    if both_vectors:
        card = "one-to-one"
        on, labels, include = False, [], []
        if mod is not None:
            card = _CARD[_enum_name(mod.card)]
            if mod.matching is not None:
                on = _enum_name(mod.matching.type) == "Include"
                labels = list(mod.matching.labels)
            include = list(mod.group_labels or ())
        if _op(node) in ("and", "or", "unless"):
            card = "many-to-many"
        matching = {"card": card, "labels": labels, "on": on, "include": include}
    return {
        "type": "binaryExpr",
        "op": _op(node),
        "lhs": lhs,
        "rhs": rhs,
        "matching": matching,
        "bool": bool(mod.return_bool) if mod is not None else False,
    }


def _is_vector(node: Any) -> bool:
    """Whether a node yields an instant vector (Prometheus sets `matching` only then)."""
    while isinstance(node, pp.ParenExpr):
        node = node.expr
    if isinstance(node, pp.NumberLiteral | pp.StringLiteral):
        return False
    if isinstance(node, pp.VectorSelector | pp.AggregateExpr):
        return True
    if isinstance(node, pp.Call):
        return _enum_name(node.func.return_type) == "Vector"
    if isinstance(node, pp.UnaryExpr):
        return _is_vector(node.expr)
    if isinstance(node, pp.BinaryExpr):
        return _is_vector(node.lhs) or _is_vector(node.rhs)
    return False
