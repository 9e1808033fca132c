"""A Go text/template interpreter for alert labels and annotations, with Prometheus's functions.

Covers what rule files use: actions and pipelines, variables (`$labels`, `$value`,
`$externalLabels`, `$externalURL`), `if`/`else if`/`range`/`with`, comments and trim markers,
Go's built-ins (`printf`, `eq`, `and`, `index`, `len`...) and Prometheus's template functions
(`humanize*`, `title`, `reReplaceAll`, `query`, `first`, `label`, `value`...). `parse` reports
the same syntax errors Go does (undefined variables and functions included), which is what
`promtool check rules` checks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from openmanager.rules import gofuncs
from openmanager.rules.gofmt import sprint

ALERT_DEFS = ("$labels", "$externalLabels", "$externalURL", "$value")


class TemplateError(Exception):
    """A template that does not parse or fails while executing (message as Go words it)."""


# ---------------------------------------------------------------- lexing

_TOKEN = re.compile(
    r"""\s*(?:
    (?P<str>"(?:[^"\\\n]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<char>'(?:[^'\\]|\\.)+')
  | (?P<num>[+-]?(?:0[xX][0-9a-fA-F_]+|(?:\d[\d_]*\.?\d*|\.\d+)(?:[eE][+-]?\d+)?))
  | (?P<decl>:=)
  | (?P<assign>=)
  | (?P<var>\$[A-Za-z0-9_]*)
  | (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+)
  | (?P<dot>\.)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[|(),])
    )""",
    re.VERBOSE,
)
_CHAIN = re.compile(r"(?:\.[A-Za-z_][A-Za-z0-9_]*)+")


@dataclass
class _Tok:
    kind: str
    text: str
    chain: tuple[str, ...] = ()


def _lex_action(text: str, name: str, line: int) -> list[_Tok]:
    toks: list[_Tok] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.lastgroup is None:
            bad = text[pos:].strip()[:1]
            raise TemplateError(f"template: {name}:{line}: unexpected {bad!r} in command")
        kind, tok = m.lastgroup, m.group(m.lastgroup)
        pos = m.end()
        chain: tuple[str, ...] = ()
        if kind in ("var", "punct") and (kind == "var" or tok == ")"):
            cm = _CHAIN.match(text, pos)
            if cm is not None:
                chain = tuple(cm.group(0).split(".")[1:])
                pos = cm.end()
        toks.append(_Tok(kind, tok, chain))
    return toks


# ---------------------------------------------------------------- tree


@dataclass
class _Operand:
    kind: str  # lit, dot, field, var, ident, pipe
    value: Any = None
    chain: tuple[str, ...] = ()


@dataclass
class _Command:
    args: list[_Operand]


@dataclass
class _Pipeline:
    decl: list[str]
    is_assign: bool
    cmds: list[_Command]


@dataclass
class _Text:
    text: str


@dataclass
class _Action:
    pipe: _Pipeline


@dataclass
class _Control:
    kind: str  # if, range, with
    pipe: _Pipeline
    body: list[Any] = field(default_factory=list)
    orelse: list[Any] = field(default_factory=list)


@dataclass
class Template:
    """A parsed template; `execute` renders it."""

    name: str
    nodes: list[Any]


_SPLIT = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.DOTALL)


def parse(text: str, name: str = "tmpl", variables: Sequence[str] = ALERT_DEFS) -> Template:
    """Parse `text`; raises TemplateError (Go's message) for syntax errors, unknown names."""
    parser = _Parser(text, name, set(variables) | {"$"})
    return Template(name, parser.run())


class _Parser:
    def __init__(self, text: str, name: str, variables: set[str]) -> None:
        self.name = name
        self.items: list[tuple[str, str, int]] = []  # (kind, text, line)
        pos = 0
        trim_next = False
        for m in _SPLIT.finditer(text):
            chunk = text[pos : m.start()]
            if trim_next:
                chunk = chunk.lstrip()
            if m.group(1):
                chunk = chunk.rstrip()
            if chunk:
                self.items.append(("text", chunk, 0))
            line = text.count("\n", 0, m.start()) + 1
            self.items.append(("action", m.group(2), line))
            trim_next = bool(m.group(3))
            pos = m.end()
        rest = text[pos:]
        if "{{" in rest:
            line = text.count("\n", 0, pos + rest.index("{{")) + 1
            raise TemplateError(f"template: {name}:{line}: unclosed action")
        if trim_next:
            rest = rest.lstrip()
        if rest:
            self.items.append(("text", rest, 0))
        self.i = 0
        self.scopes: list[set[str]] = [variables]
        self.line = 1
        self.pending: list[_Tok] = []

    def err(self, msg: str) -> TemplateError:
        return TemplateError(f"template: {self.name}:{self.line}: {msg}")

    def run(self) -> list[Any]:
        nodes, end = self.list_until(())
        if end is not None:
            raise self.err(f"unexpected {{{{{end}}}}}")
        return nodes

    def list_until(self, stops: tuple[str, ...]) -> tuple[list[Any], str | None]:
        nodes: list[Any] = []
        while self.i < len(self.items):
            kind, text, line = self.items[self.i]
            self.i += 1
            if kind == "text":
                nodes.append(_Text(text))
                continue
            self.line = line
            body = text.strip()
            if body.startswith("/*"):
                if not body.endswith("*/"):
                    raise self.err("unclosed comment")
                continue
            toks = _lex_action(body, self.name, line)
            if not toks:
                raise self.err("missing value for command")
            head = toks[0]
            if head.kind == "ident" and head.text in ("end", "else"):
                if head.text not in stops:
                    raise self.err(f"unexpected {{{{{head.text}}}}}")
                self.pending = toks[1:]
                return nodes, head.text
            if head.kind == "ident" and head.text in ("if", "range", "with"):
                nodes.append(self.control(head.text, toks[1:]))
                continue
            if head.kind == "ident" and head.text in (
                "define",
                "template",
                "block",
                "break",
                "continue",
            ):
                raise self.err(f"{head.text} is not supported in alert templates")
            nodes.append(_Action(self.pipeline(toks, allow_decl=True)))
        if stops:
            raise self.err("unexpected EOF")
        return nodes, None

    def control(self, kind: str, toks: list[_Tok]) -> _Control:
        self.scopes.append(set())
        pipe = self.pipeline(toks, allow_decl=True, in_range=kind == "range")
        if not pipe.cmds:
            raise self.err(f"missing value for {kind}")
        node = _Control(kind, pipe)
        node.body, end = self.list_until(("end", "else"))
        self.scopes.pop()
        if end == "else":
            rest = self.pending
            if (
                rest
                and rest[0].kind == "ident"
                and rest[0].text in ("if", "with")
                and kind != "range"
            ):
                # `else if` / `else with`: a nested control that shares our {{end}}
                self.i -= 1
                self.items[self.i] = ("action", " ".join(_tok_text(t) for t in rest), self.line)
                node.orelse = [self.control_chain()]
                return node
            if rest:
                raise self.err("unexpected tokens after else")
            self.scopes.append(set())
            node.orelse, end2 = self.list_until(("end",))
            self.scopes.pop()
            if end2 != "end":
                raise self.err("expected end")
        return node

    def control_chain(self) -> _Control:
        kind, text, line = self.items[self.i]
        self.i += 1
        toks = _lex_action(text.strip(), self.name, line)
        return self.control(toks[0].text, toks[1:])

    def declared(self, var: str) -> bool:
        return any(var in s for s in self.scopes)

    def pipeline(self, toks: list[_Tok], allow_decl: bool, in_range: bool = False) -> _Pipeline:
        decl: list[str] = []
        is_assign = False
        k = 0
        # $x := / $x = / $i, $v :=
        if len(toks) >= 2 and toks[0].kind == "var" and not toks[0].chain:
            if toks[1].kind in ("decl", "assign"):
                decl, is_assign, k = [toks[0].text], toks[1].kind == "assign", 2
            elif (
                in_range
                and len(toks) >= 4
                and toks[1].text == ","
                and toks[2].kind == "var"
                and toks[3].kind == "decl"
            ):
                decl, k = [toks[0].text, toks[2].text], 4
        if decl and not is_assign:
            self.scopes[-1].update(decl)
        elif decl and not self.declared(decl[0]):
            raise self.err(f'undefined variable "{decl[0]}"')
        cmds, end = self.commands(toks, k)
        if end != len(toks):
            raise self.err(f"unexpected {toks[end].text!r} in command")
        return _Pipeline(decl, is_assign, cmds)

    def commands(self, toks: list[_Tok], k: int) -> tuple[list[_Command], int]:
        cmds: list[_Command] = []
        args: list[_Operand] = []
        while k < len(toks):
            t = toks[k]
            if t.text == "|" and t.kind == "punct":
                if not args:
                    raise self.err("missing command")
                cmds.append(_Command(args))
                args = []
                k += 1
                continue
            if t.text == ")" and t.kind == "punct":
                break
            if t.text == "(" and t.kind == "punct":
                inner, j = self.commands(toks, k + 1)
                if j >= len(toks) or toks[j].text != ")":
                    raise self.err("unclosed left paren")
                if not inner:
                    raise self.err("missing command")
                args.append(_Operand("pipe", _Pipeline([], False, inner), toks[j].chain))
                k = j + 1
                continue
            args.append(self.operand(t))
            k += 1
        if args:
            cmds.append(_Command(args))
        return cmds, k

    def operand(self, t: _Tok) -> _Operand:
        if t.kind == "str":
            return _Operand("lit", _unquote(t.text[1:-1]))
        if t.kind == "raw":
            return _Operand("lit", t.text[1:-1])
        if t.kind == "char":
            return _Operand("lit", ord(_unquote(t.text[1:-1])[0]))
        if t.kind == "num":
            txt = t.text.replace("_", "")
            try:
                return _Operand("lit", int(txt, 0))
            except ValueError:
                return _Operand("lit", float(txt))
        if t.kind == "var":
            if not self.declared(t.text):
                raise self.err(f'undefined variable "{t.text}"')
            return _Operand("var", t.text, t.chain)
        if t.kind == "field":
            return _Operand("field", None, tuple(t.text.split(".")[1:]))
        if t.kind == "dot":
            return _Operand("dot")
        if t.kind == "ident":
            if t.text in ("true", "false"):
                return _Operand("lit", t.text == "true")
            if t.text == "nil":
                return _Operand("lit", None)
            if t.text not in gofuncs.BUILTINS and t.text not in gofuncs.PROMETHEUS_FUNCS:
                raise self.err(f'function "{t.text}" not defined')
            return _Operand("ident", t.text)
        raise self.err(f"unexpected {t.text!r} in operand")


def _tok_text(t: _Tok) -> str:
    return t.text + "".join("." + c for c in t.chain)


_ESC = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "a": "\a", "b": "\b"}


def _unquote(s: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            nxt = s[i + 1]
            if nxt in "xuU":
                size = {"x": 2, "u": 4, "U": 8}[nxt]
                out.append(chr(int(s[i + 2 : i + 2 + size], 16)))
                i += 2 + size
                continue
            out.append(_ESC.get(nxt, nxt))
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


# ---------------------------------------------------------------- execution


class _Exec:
    def __init__(self, tmpl: Template, funcs: Mapping[str, Callable[..., Any]]) -> None:
        self.name = tmpl.name
        self.funcs = funcs
        self.vars: list[dict[str, Any]] = []

    def err(self, msg: str) -> TemplateError:
        return TemplateError(f"template: {self.name}: {msg}")

    def lookup(self, var: str) -> Any:
        for scope in reversed(self.vars):
            if var in scope:
                return scope[var]
        raise self.err(f'undefined variable "{var}"')

    def set_var(self, var: str, value: Any) -> None:
        for scope in reversed(self.vars):
            if var in scope:
                scope[var] = value
                return
        raise self.err(f'undefined variable "{var}"')

    def walk(self, nodes: list[Any], dot: Any, out: list[str]) -> None:
        for node in nodes:
            if isinstance(node, _Text):
                out.append(node.text)
            elif isinstance(node, _Action):
                value = self.pipe(node.pipe, dot)
                if not node.pipe.decl:
                    out.append(sprint(value))
            else:
                self.control(node, dot, out)

    def control(self, node: _Control, dot: Any, out: list[str]) -> None:
        self.vars.append({})
        try:
            if node.kind == "range":
                value = self.pipe(node.pipe, dot, declare=False)
                items = _range_items(value, self.err)
                if not items:
                    self.walk(node.orelse, dot, out)
                for key, item in items:
                    self.vars.append({})
                    if len(node.pipe.decl) == 2:
                        self.vars[-1][node.pipe.decl[0]] = key
                        self.vars[-1][node.pipe.decl[1]] = item
                    elif node.pipe.decl:
                        self.vars[-1][node.pipe.decl[0]] = item
                    self.walk(node.body, item, out)
                    self.vars.pop()
                return
            value = self.pipe(node.pipe, dot)
            if gofuncs.truth(value):
                self.walk(node.body, value if node.kind == "with" else dot, out)
            else:
                self.walk(node.orelse, dot, out)
        finally:
            self.vars.pop()

    def pipe(self, pipe: _Pipeline, dot: Any, declare: bool = True) -> Any:
        value: Any = None
        final = False
        for cmd in pipe.cmds:
            value = self.command(cmd, dot, value, final)
            final = True
        if pipe.decl and declare:
            if pipe.is_assign:
                self.set_var(pipe.decl[0], value)
            else:
                self.vars[-1][pipe.decl[0]] = value
        return value

    def command(self, cmd: _Command, dot: Any, piped: Any, has_piped: bool) -> Any:
        first = cmd.args[0]
        if first.kind == "ident":
            fn = self.funcs.get(first.value)
            if fn is None:
                raise self.err(f'function "{first.value}" not defined')
            if first.value in ("and", "or"):
                return self.short_circuit(first.value, cmd.args[1:], dot, piped, has_piped)
            args = [self.operand(a, dot) for a in cmd.args[1:]]
            if has_piped:
                args.append(piped)
            try:
                return fn(*args)
            except TemplateError:
                raise
            except (TypeError, ValueError, KeyError, IndexError, ZeroDivisionError) as exc:
                raise self.err(f"error calling {first.value}: {exc}") from exc
        if len(cmd.args) > 1 or has_piped:
            raise self.err(f"can't give argument to non-function {first.kind}")
        return self.operand(first, dot)

    def short_circuit(
        self, op: str, ops: list[_Operand], dot: Any, piped: Any, has_piped: bool
    ) -> Any:
        values: list[Callable[[], Any]] = [lambda o=o: self.operand(o, dot) for o in ops]  # type: ignore[misc]
        if has_piped:
            values.append(lambda: piped)
        if not values:
            raise self.err(f"wrong number of args for {op}: want at least 1 got 0")
        result: Any = None
        for get in values:
            result = get()
            if gofuncs.truth(result) == (op == "or"):
                return result
        return result

    def operand(self, op: _Operand, dot: Any) -> Any:
        if op.kind == "lit":
            return op.value
        if op.kind == "dot":
            return dot
        if op.kind == "ident":
            return self.command(_Command([op]), dot, None, False)
        if op.kind == "var":
            base = self.lookup(op.value)
        elif op.kind == "field":
            base = dot
        else:
            base = self.pipe(op.value, dot)
        for name in op.chain:
            base = self.field(base, name)
        return base

    def field(self, base: Any, name: str) -> Any:
        if isinstance(base, Mapping):
            return base.get(name, "")
        if base is None:
            raise self.err(f"nil pointer evaluating interface {{}}.{name}")
        if hasattr(base, name):
            return getattr(base, name)
        raise self.err(f"can't evaluate field {name} in type {type(base).__name__}")


def _range_items(value: Any, err: Callable[[str], TemplateError]) -> list[tuple[Any, Any]]:
    if value is None:
        return []
    if isinstance(value, Mapping):
        return [(k, value[k]) for k in sorted(value)]
    if isinstance(value, (list, tuple)):
        return list(enumerate(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return [(i, i) for i in range(value)]
    raise err(f"range can't iterate over {sprint(value)}")


def execute(
    tmpl: Template,
    dot: Any,
    variables: Mapping[str, Any],
    funcs: Mapping[str, Callable[..., Any]],
) -> str:
    """Render a parsed template with `dot`, pre-set variables and the function table."""
    ex = _Exec(tmpl, funcs)
    ex.vars.append({"$": dot, **variables})
    out: list[str] = []
    ex.walk(tmpl.nodes, dot, out)
    return "".join(out)


@dataclass
class AlertTemplateData:
    """What alert templates see: `.Labels`, `.ExternalLabels`, `.ExternalURL`, `.Value`."""

    labels: Mapping[str, str]
    external_labels: Mapping[str, str]
    external_url: str
    value: float


def expand_alert_text(
    text: str,
    name: str,
    data: AlertTemplateData,
    time_ms: int,
    query: gofuncs.QueryFn | None = None,
) -> str:
    """Expand one label or annotation as Prometheus does; failures become `<error expanding template: ...>`."""
    if "{{" not in text:
        return text
    try:
        tmpl = parse(text, name)
        dot = {
            "Labels": dict(data.labels),
            "ExternalLabels": dict(data.external_labels),
            "ExternalURL": data.external_url,
            "Value": data.value,
        }
        variables = {
            "$labels": dot["Labels"],
            "$externalLabels": dot["ExternalLabels"],
            "$externalURL": data.external_url,
            "$value": data.value,
        }
        funcs = gofuncs.function_table(time_ms, data.external_url, query)
        return execute(tmpl, dot, variables, funcs)
    except TemplateError as exc:
        return f"<error expanding template: {exc}>"
