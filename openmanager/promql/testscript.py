"""Reader for Prometheus's PromQL test scripts (`promqltest` `.test` files).

Parses `load`, `clear` and `eval` commands (with `expect` lines and the deprecated `eval_fail`,
`eval_ordered`, `eval_warn`, `eval_info` forms) and the series value notation (`1+2x10`, `_`,
`stale`, `Inf`, `NaN`); native-histogram values (`{{...}}`) are recorded, not decoded.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from openmanager.errors import InvalidInput
from openmanager.samples import METRIC_NAME, STALE_NAN, Labels

_DUR = re.compile(r"(\d+)(ms|[smhdwy])")
_UNIT_MS = {
    "ms": 1,
    "s": 1000,
    "m": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
    "w": 604_800_000,
    "y": 31_536_000_000,
}
_EVAL_INSTANT = re.compile(
    r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$"
)
_EVAL_RANGE = re.compile(
    r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$"
)
_EXPECT = re.compile(r"^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$")
_NUM = r"(?:[+-]?(?:Inf|inf|NaN|nan|0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?))"
_SEQ = re.compile(rf"^({_NUM})(?:([+-])({_NUM}))?x(\d+)$")


def parse_duration_ms(text: str) -> int:
    """Prometheus model.ParseDuration (plus a bare `0`) in milliseconds."""
    text = text.strip()
    if text == "0":
        return 0
    pos, total = 0, 0
    for m in _DUR.finditer(text):
        if m.start() != pos:
            break
        total += int(m.group(1)) * _UNIT_MS[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise InvalidInput(f"invalid duration {text!r}")
    return total


def parse_number(text: str) -> float:
    """A number as Go's ParseFloat/ParseInt accept it (Inf, NaN, hex)."""
    t = text.strip()
    low = t.lower().lstrip("+-")
    if low.startswith("0x"):
        return float(int(t, 16))
    if low in ("inf", "infinity"):
        return -math.inf if t.startswith("-") else math.inf
    if low == "nan":
        return math.nan
    return float(t)


@dataclass
class Point:
    """One value of a series description: a float, an omitted slot, or a native histogram."""

    value: float = 0.0
    omitted: bool = False
    histogram: bool = False


def parse_values(text: str) -> list[Point]:
    """Expand a value sequence like `0 1+2x3 _ _x2 stale 5x2`."""
    out: list[Point] = []
    tokens = _tokenize(text)
    for tok in tokens:
        if tok.startswith("{{"):
            reps = 1
            m = re.search(r"\}\}x(\d+)$", tok)
            if m:
                reps = int(m.group(1)) + 1
            out.extend(Point(histogram=True) for _ in range(reps))
        elif tok == "_":
            out.append(Point(omitted=True))
        elif tok.startswith("_x"):
            out.extend(Point(omitted=True) for _ in range(int(tok[2:])))
        elif tok == "stale":
            out.append(Point(STALE_NAN))
        else:
            m = _SEQ.match(tok)
            if m:
                start = parse_number(m.group(1))
                delta = parse_number(m.group(3)) if m.group(3) else 0.0
                if m.group(2) == "-":
                    delta = -delta
                k = start
                for _ in range(int(m.group(4)) + 1):
                    out.append(Point(k))
                    k += delta
            else:
                out.append(Point(parse_number(tok)))
    return out


def _tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        if text.startswith("{{", i):
            j = text.index("}}", i) + 2
            while text.startswith(("+{{", "-{{"), j):
                j = text.index("}}", j) + 2
            while j < n and not text[j].isspace():
                j += 1
            tokens.append(text[i:j])
            i = j
            continue
        j = i
        while j < n and not text[j].isspace():
            j += 1
        tokens.append(text[i:j])
        i = j
    return tokens


def _read_string(text: str, i: int) -> tuple[str, int]:
    quote = text[i]
    j = i + 1
    buf = []
    while text[j] != quote:
        if text[j] == "\\" and quote != "`":
            j += 1
            esc = text[j]
            buf.append({"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'"}.get(esc, "\\" + esc))
        else:
            buf.append(text[j])
        j += 1
    return "".join(buf), j + 1


def parse_series(line: str) -> tuple[Labels, str]:
    """Split `metric{a="b"} values...` into (labels, rest of the line)."""
    i, n = 0, len(line)
    labels: dict[str, str] = {}
    m = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:.]*", line)
    if m and (m.end() == n or line[m.end()] in "{ \t"):
        labels[METRIC_NAME] = m.group(0)
        i = m.end()
    if i < n and line[i] == "{":
        i += 1
        while True:
            while line[i] in " \t,":
                i += 1
            if line[i] == "}":
                i += 1
                break
            if line[i] in "\"'`":
                name, i = _read_string(line, i)
            else:
                mm = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*").match(line, i)
                if mm is None:
                    raise InvalidInput(f"bad series description {line!r}")
                name, i = mm.group(0), mm.end()
            while line[i] in " \t":
                i += 1
            if line[i] != "=":
                labels[METRIC_NAME] = name  # a bare quoted metric name
                continue
            i += 1
            while line[i] in " \t":
                i += 1
            value, i = _read_string(line, i)
            labels[name] = value
    lbls = tuple(sorted((k, v) for k, v in labels.items() if v != ""))
    return lbls, line[i:].strip()


@dataclass
class Load:
    """A `load <interval>` block: series and their expanded points."""

    line: int
    interval_ms: int
    series: list[tuple[Labels, list[Point]]] = field(default_factory=list)
    with_nhcb: bool = False


@dataclass
class Clear:
    line: int


@dataclass
class Eval:
    """One `eval` command with its expectations."""

    line: int
    expr: str
    start_ms: int
    end_ms: int
    step_ms: int
    is_range: bool
    fail: bool = False
    fail_message: str | None = None
    fail_regexp: str | None = None
    ordered: bool = False
    annotations: list[str] = field(default_factory=list)
    expect_scalar: float | None = None
    expected: list[tuple[Labels, list[Point]]] = field(default_factory=list)
    expect_string: str | None = None
    has_histograms: bool = False


Command = Load | Clear | Eval


def parse_script(text: str) -> list[Command]:
    """All commands of a test file, in order (line numbers are 1-based)."""
    lines = []
    for raw in text.split("\n"):
        s = raw.strip()
        lines.append("" if s.startswith("#") else s)
    cmds: list[Command] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line:
            i += 1
            continue
        word = line.split()[0].lower()
        if word == "clear":
            cmds.append(Clear(i + 1))
            i += 1
        elif word.startswith("load"):
            i = _parse_load(lines, i, cmds)
        elif word.startswith("eval"):
            i = _parse_eval(lines, i, cmds)
        else:
            raise InvalidInput(f"line {i + 1}: invalid command {line!r}")
    return cmds


def _block(lines: list[str], i: int) -> tuple[list[tuple[int, str]], int]:
    body = []
    j = i + 1
    while j < len(lines) and lines[j]:
        body.append((j, lines[j]))
        j += 1
    return body, j


def _parse_load(lines: list[str], i: int, cmds: list[Command]) -> int:
    m = re.match(r"^load(?:_(with_nhcb))?\s+(.+?)$", lines[i])
    if m is None:
        raise InvalidInput(f"line {i + 1}: invalid load command")
    cmd = Load(i + 1, parse_duration_ms(m.group(2)), with_nhcb=m.group(1) == "with_nhcb")
    body, j = _block(lines, i)
    defined: dict[Labels, list[Point]] = {}
    for _, line in body:
        labels, rest = parse_series(line)
        defined[labels] = parse_values(rest)  # a later line for the same series replaces it
    cmd.series = list(defined.items())
    cmds.append(cmd)
    return j


def _parse_eval(lines: list[str], i: int, cmds: list[Command]) -> int:
    line = lines[i]
    inst = _EVAL_INSTANT.match(line)
    rng = None if inst else _EVAL_RANGE.match(line)
    if inst is not None:
        mod, expr = inst.group(1), inst.group(3)
        t = parse_duration_ms(inst.group(2) or "0")
        cmd = Eval(i + 1, expr, t, t, 0, False)
    elif rng is not None:
        mod, expr = rng.group(1), rng.group(5)
        cmd = Eval(
            i + 1,
            expr,
            parse_duration_ms(rng.group(2)),
            parse_duration_ms(rng.group(3)),
            parse_duration_ms(rng.group(4)),
            True,
        )
    else:
        raise InvalidInput(f"line {i + 1}: invalid eval command")
    cmd.fail = mod == "fail"
    cmd.ordered = mod == "ordered"
    if mod in ("warn", "info"):
        cmd.annotations.append(mod)
    j = i + 1
    while j < len(lines) and lines[j]:
        d = lines[j]
        j += 1
        if cmd.fail and d.startswith("expected_fail_message"):
            cmd.fail_message = d[len("expected_fail_message") :].strip()
            break
        if cmd.fail and d.startswith("expected_fail_regexp"):
            cmd.fail_regexp = d[len("expected_fail_regexp") :].strip()
            break
        if d.startswith("expect string"):
            cmd.expect_string, _ = _read_string(d, len("expect string "))
            continue
        if d.split(" ")[0] == "expect":
            em = _EXPECT.match(d)
            if em is None:
                raise InvalidInput(f"line {j}: invalid expect line {d!r}")
            kind = em.group(1)
            if kind == "fail":
                cmd.fail = True
                if em.group(2) == "msg":
                    cmd.fail_message = em.group(3).strip()
                elif em.group(2) == "regex":
                    cmd.fail_regexp = em.group(3).strip()
            elif kind == "ordered":
                cmd.ordered = True
            else:
                cmd.annotations.append(kind)
            continue
        try:
            cmd.expect_scalar = parse_number(d)
            break
        except ValueError:
            pass
        labels, rest = parse_series(d)
        points = parse_values(rest)
        if any(p.histogram for p in points):
            cmd.has_histograms = True
        cmd.expected.append((labels, points))
    while j < len(lines) and lines[j]:
        j += 1
    cmds.append(cmd)
    return j
