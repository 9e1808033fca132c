"""PromQL expressions printed as Prometheus's `Expr.String()` does (rule `query`, `generatorURL`).

Prometheus shows and links a rule's expression in its canonical one-line form
(`sum by (job) (rate(x[5m])) > 0.5`), not as written in the file.
"""

from __future__ import annotations

import json

from openmanager.errors import InvalidInput
from openmanager.promql import ast as A
from openmanager.promql.parse import parse_expr
from openmanager.rules.gofmt import shortest_g
from openmanager.units import format_duration


def _quote(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def _at_offset(at: A.At | None, offset_ms: int) -> str:
    out = ""
    if at is not None:
        if at.kind is A.AtKind.START:
            out += " @ start()"
        elif at.kind is A.AtKind.END:
            out += " @ end()"
        else:
            out += f" @ {at.time_ms / 1000:.3f}"
    if offset_ms > 0:
        out += f" offset {format_duration(offset_ms)}"
    elif offset_ms < 0:
        out += f" offset -{format_duration(-offset_ms)}"
    return out


def _selector(node: A.VectorSelector) -> str:
    name = node.name or ""
    parts = sorted(
        f"{m.name}{m.type.value}{_quote(m.value)}"
        for m in node.matchers
        if not (name and m.name == "__name__" and m.type.value == "=")
    )
    return f"{name}{{{','.join(parts)}}}" if parts else name


def to_string(node: A.Node) -> str:
    """The expression in Prometheus 2's canonical text."""
    if isinstance(node, A.NumberLiteral):
        return shortest_g(node.value)
    if isinstance(node, A.StringLiteral):
        return _quote(node.value)
    if isinstance(node, A.VectorSelector):
        return _selector(node) + _at_offset(node.at, node.offset_ms)
    if isinstance(node, A.MatrixSelector):
        sel = node.selector
        rng = f"[{format_duration(node.range_ms)}]"
        return _selector(sel) + rng + _at_offset(sel.at, sel.offset_ms)
    if isinstance(node, A.Subquery):
        step = format_duration(node.step_ms) if node.step_ms else ""
        inner = f"{to_string(node.expr)}[{format_duration(node.range_ms)}:{step}]"
        return inner + _at_offset(node.at, node.offset_ms)
    if isinstance(node, A.Paren):
        return f"({to_string(node.expr)})"
    if isinstance(node, A.Unary):
        return f"-{to_string(node.expr)}"
    if isinstance(node, A.Binary):
        bool_s = " bool" if node.return_bool else ""
        vm = node.matching
        matching = ""
        if vm.labels or vm.on:
            matching = f" {'on' if vm.on else 'ignoring'} ({', '.join(vm.labels)})"
            if vm.card in ("many-to-one", "one-to-many"):
                side = "left" if vm.card == "many-to-one" else "right"
                matching += f" group_{side} ({', '.join(vm.include)})"
        return f"{to_string(node.lhs)} {node.op}{bool_s}{matching} {to_string(node.rhs)}"
    if isinstance(node, A.Aggregate):
        head = node.op
        if node.without:
            head += f" without ({', '.join(node.grouping)}) "
        elif node.grouping:
            head += f" by ({', '.join(node.grouping)}) "
        param = f"{to_string(node.param)}, " if node.param is not None else ""
        return f"{head}({param}{to_string(node.expr)})"
    if isinstance(node, A.Call):
        return f"{node.func}({', '.join(to_string(a) for a in node.args)})"
    raise TypeError(f"cannot print {type(node).__name__}")


def canonical(expr: str) -> str:
    """`expr` as Prometheus prints it; the text unchanged when it does not parse or print."""
    try:
        return to_string(parse_expr(expr))
    except (InvalidInput, TypeError):
        return expr.strip()
