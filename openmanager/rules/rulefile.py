"""Prometheus rule files: parse and validate them as `promtool check rules` does.

Every problem is reported with its file, line and reason; a file with any problem yields no
groups at all (as Prometheus refuses to load it).
"""

from __future__ import annotations

import glob
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from openmanager.errors import InvalidInput
from openmanager.promql.parse import parse_expr
from openmanager.rules import template
from openmanager.rules.yamlpos import Node, YamlError, load

_DURATION = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$"
)
_DUR_MS = (31_536_000_000, 604_800_000, 86_400_000, 3_600_000, 60_000, 1000, 1)
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")

_GROUP_FIELDS = ("name", "interval", "query_offset", "limit", "rules")
_RULE_FIELDS = ("record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations")


def parse_duration(text: str) -> int:
    """Prometheus's model.ParseDuration in ms (units in order, each once; `0` allowed)."""
    if text == "0":
        return 0
    m = _DURATION.match(text)
    if not text or m is None:
        raise ValueError(f'not a valid duration string: "{text}"')
    return sum(int(g) * unit for g, unit in zip(m.groups(), _DUR_MS, strict=True) if g)


@dataclass(frozen=True)
class RuleProblem:
    """One reason a rule file is invalid."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class RuleFileInvalid(InvalidInput):
    """One or more rule files are invalid; `problems` lists each with file and line."""

    def __init__(self, problems: Sequence[RuleProblem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = list(problems)


@dataclass(frozen=True)
class RuleSpec:
    """One rule as written: `kind` is `alerting` or `recording`; durations in ms."""

    kind: str
    name: str
    expr: str
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    for_ms: int = 0
    keep_firing_for_ms: int = 0
    line: int = 0


@dataclass(frozen=True)
class GroupSpec:
    """One rule group; `interval_ms`/`query_offset_ms` are None when the file leaves them out."""

    name: str
    file: str
    rules: tuple[RuleSpec, ...]
    interval_ms: int | None = None
    query_offset_ms: int | None = None
    limit: int = 0
    line: int = 0


class _Collector:
    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[RuleProblem] = []

    def add(self, line: int, message: str) -> None:
        self.problems.append(RuleProblem(self.file, line, message))

    def fields(self, node: Node, allowed: Sequence[str], type_name: str) -> dict[str, Node]:
        out: dict[str, Node] = {}
        for key, value in node.pairs or []:
            if key.value not in allowed:
                self.add(key.line, f"field {key.value} not found in type {type_name}")
            else:
                out[key.value] = value
        return out

    def string(self, node: Node | None) -> str:
        if node is None or node.is_null:
            return ""
        if node.kind != "scalar":
            self.add(node.line, f"cannot unmarshal {node.type_name()} into string")
            return ""
        return node.value

    def duration(self, node: Node | None) -> int | None:
        if node is None or node.is_null:
            return None
        text = self.string(node)
        try:
            return parse_duration(text)
        except ValueError as exc:
            self.add(node.line, str(exc))
            return None

    def string_map(self, node: Node | None) -> dict[str, str]:
        if node is None or node.is_null:
            return {}
        if node.kind != "map":
            self.add(node.line, f"cannot unmarshal {node.type_name()} into map[string]string")
            return {}
        return {self.string(k): self.string(v) for k, v in node.pairs or []}


def parse_rule_text(text: str, file: str = "<rules>") -> list[GroupSpec]:
    """Parse and validate one rule file's text; raises RuleFileInvalid listing every problem."""
    c = _Collector(file)
    try:
        root = load(text)
    except YamlError as exc:
        raise RuleFileInvalid([RuleProblem(file, exc.line, f"yaml: {exc.message}")]) from exc
    if root is None or root.is_null:
        return []
    if root.kind != "map":
        c.add(root.line, f"cannot unmarshal {root.type_name()} into rulefmt.RuleGroups")
        raise RuleFileInvalid(c.problems)
    top = c.fields(root, ("groups",), "rulefmt.RuleGroups")
    groups_node = top.get("groups")
    groups: list[GroupSpec] = []
    if groups_node is not None and not groups_node.is_null:
        if groups_node.kind != "seq":
            c.add(
                groups_node.line,
                f"cannot unmarshal {groups_node.type_name()} into []rulefmt.RuleGroup",
            )
        else:
            seen: set[str] = set()
            for gnode in groups_node.items or []:
                group = _group(c, gnode, seen)
                if group is not None:
                    groups.append(group)
    if c.problems:
        raise RuleFileInvalid(c.problems)
    return groups


def _group(c: _Collector, node: Node, seen: set[str]) -> GroupSpec | None:
    if node.kind != "map":
        c.add(node.line, f"cannot unmarshal {node.type_name()} into rulefmt.RuleGroup")
        return None
    f = c.fields(node, _GROUP_FIELDS, "rulefmt.RuleGroup")
    name = c.string(f.get("name"))
    if name == "":
        c.add(node.line, "Groupname must not be empty")
    elif name in seen:
        c.add(node.line, f'groupname: "{name}" is repeated in the same file')
    seen.add(name)
    interval = c.duration(f.get("interval"))
    offset = c.duration(f.get("query_offset"))
    limit = 0
    lnode = f.get("limit")
    if lnode is not None and not lnode.is_null:
        try:
            limit = int(c.string(lnode), 0)
        except ValueError:
            c.add(lnode.line, f"cannot unmarshal {lnode.type_name()} `{lnode.value}` into int")
    rules: list[RuleSpec] = []
    rnode = f.get("rules")
    if rnode is not None and not rnode.is_null:
        if rnode.kind != "seq":
            c.add(rnode.line, f"cannot unmarshal {rnode.type_name()} into []rulefmt.RuleNode")
        else:
            for i, item in enumerate(rnode.items or [], start=1):
                rule = _rule(c, item, name, i)
                if rule is not None:
                    rules.append(rule)
    return GroupSpec(name, c.file, tuple(rules), interval, offset, limit, node.line)


def _rule(c: _Collector, node: Node, group: str, index: int) -> RuleSpec | None:
    if node.kind != "map":
        c.add(node.line, f"cannot unmarshal {node.type_name()} into rulefmt.RuleNode")
        return None
    f = c.fields(node, _RULE_FIELDS, "rulefmt.Rule")
    record, alert = c.string(f.get("record")), c.string(f.get("alert"))
    expr = c.string(f.get("expr"))
    for_ms = c.duration(f.get("for")) or 0
    keep_ms = c.duration(f.get("keep_firing_for")) or 0
    labels = c.string_map(f.get("labels"))
    annotations = c.string_map(f.get("annotations"))
    name = record or alert

    def bad(line_of: str | None, message: str) -> None:
        n = f.get(line_of) if line_of else None
        line = n.line if n is not None else node.line
        c.add(line, f'group "{group}", rule {index}, "{name}": {message}')

    if record and alert:
        bad("record", "only one of 'record' and 'alert' must be set")
    if not record and not alert:
        bad(None, "one of 'record' or 'alert' must be set")
    if not expr:
        bad(None, "field 'expr' must be set in rule")
    else:
        try:
            parse_expr(expr)
        except InvalidInput as exc:
            bad("expr", f"could not parse expression: {exc.message.removeprefix('parse error: ')}")
    if record:
        if annotations:
            bad("annotations", "invalid field 'annotations' in recording rule")
        if for_ms:
            bad("for", "invalid field 'for' in recording rule")
        if keep_ms:
            bad("keep_firing_for", "invalid field 'keep_firing_for' in recording rule")
        if not METRIC_NAME.match(record):
            bad("record", f"invalid recording rule name: {record}")
    for k in sorted(labels):
        if not LABEL_NAME.match(k) or k == "__name__":
            bad("labels", f"invalid label name: {k}")
    for k in sorted(annotations):
        if not LABEL_NAME.match(k):
            bad("annotations", f"invalid annotation name: {k}")
    if alert:
        for where, values in (("labels", labels), ("annotations", annotations)):
            for k in sorted(values):
                try:
                    template.parse(values[k], f"__alert_{alert}")
                except template.TemplateError as exc:
                    bad(where, f"msg={exc}")
    kind = "recording" if record else "alerting"
    return RuleSpec(kind, name, expr, labels, annotations, for_ms, keep_ms, node.line)


def parse_rule_file(path: str | Path) -> list[GroupSpec]:
    """Read and validate one rule file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise RuleFileInvalid([RuleProblem(str(p), 0, f"cannot read: {exc.strerror}")]) from exc
    return parse_rule_text(text, str(p))


def expand_globs(patterns: Iterable[str]) -> list[str]:
    """Rule file paths from patterns (Prometheus's `rule_files` accept globs), sorted, unique."""
    out: list[str] = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        out.extend(m for m in matches if m not in out)
    return out


def load_rule_files(patterns: Iterable[str]) -> list[GroupSpec]:
    """Every group of every file; raises RuleFileInvalid with the problems of all files."""
    groups: list[GroupSpec] = []
    problems: list[RuleProblem] = []
    for path in expand_globs(patterns):
        try:
            groups.extend(parse_rule_file(path))
        except RuleFileInvalid as exc:
            problems.extend(exc.problems)
    if problems:
        raise RuleFileInvalid(problems)
    return groups
