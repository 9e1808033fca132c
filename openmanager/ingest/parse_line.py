"""The exact per-line scanner: series, values, timestamps and comments, with precise errors.

The fast path (`parse_fast`) hands every distinct series text and every line it cannot take
to this module, so each rule of the formats is written once, here.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from openmanager.ingest.parse_types import (
    DUPLICATE_LABEL,
    INVALID_LABEL_NAME,
    INVALID_LABEL_VALUE,
    INVALID_METADATA,
    INVALID_METRIC_NAME,
    INVALID_TIMESTAMP,
    INVALID_VALUE,
    SYNTAX,
    LineError,
)
from openmanager.samples import Labels

METRIC_NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_BLANKS = re.compile(r"[ \t]*")
_TOKEN = re.compile(r"[^ \t]+")
_LABEL_VALUE = re.compile(r'((?:[^"\\\n]|\\.)*)"')
_ESCAPE = re.compile(r"\\(.)")
_BAD_NAME_END = re.compile(r"[^{}=, \t]*")
_INT = re.compile(r"[+-]?[0-9]+\Z")
_OM_TS = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
_UNESCAPE = {"\\": "\\", '"': '"', "n": "\n"}
_INT64_MAX = 2**63 - 1
TEXT_TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}
OM_TYPES = {
    "counter",
    "gauge",
    "histogram",
    "gaugehistogram",
    "stateset",
    "info",
    "summary",
    "unknown",
}


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _unescape(raw: str, col: int, escapes: str) -> str:
    """Resolve `\\\\`, `\\"` and `\\n`; any other escape is an error naming its column."""
    if "\\" not in raw:
        return raw
    for m in _ESCAPE.finditer(raw):
        if m.group(1) not in escapes:
            raise LineError(
                INVALID_LABEL_VALUE,
                f"invalid escape sequence {_quote(m.group(0))} in label value",
                col + m.start(),
            )
    return _ESCAPE.sub(lambda m: _UNESCAPE[m.group(1)], raw)


def scan_series(line: str, om: bool) -> tuple[str, list[tuple[str, str]], int]:
    """Metric name and label pairs at the start of `line`, and the index just past them."""
    m = METRIC_NAME_RE.match(line)
    if m is None:
        if line.startswith("{"):
            raise LineError(INVALID_METRIC_NAME, "metric name missing before the label set", 1)
        bad = _BAD_NAME_END.match(line)
        token = bad.group(0) if bad and bad.group(0) else line[:1]
        raise LineError(INVALID_METRIC_NAME, f"invalid metric name {_quote(token)}", 1)
    name, pos = m.group(0), m.end()
    pairs: list[tuple[str, str]] = []
    if pos >= len(line) or line[pos] != "{":
        return name, pairs, pos
    pos += 1
    seen: set[str] = set()
    while True:
        if not om:
            pos = _BLANKS.match(line, pos).end()  # type: ignore[union-attr]
        if pos < len(line) and line[pos] == "}" and (not pairs or not om):
            return name, pairs, pos + 1
        lm = LABEL_NAME_RE.match(line, pos)
        bad = _BAD_NAME_END.match(line, pos)
        end_bad = bad.end() if bad else pos
        if lm is None or (end_bad > lm.end()):
            if pos >= len(line):
                raise LineError(SYNTAX, "label set is not closed with }", pos + 1)
            token = line[pos:end_bad] or line[pos]
            raise LineError(INVALID_LABEL_NAME, f"invalid label name {_quote(token)}", pos + 1)
        lname, pos = lm.group(0), lm.end()
        if not om:
            pos = _BLANKS.match(line, pos).end()  # type: ignore[union-attr]
        if pos >= len(line) or line[pos] != "=":
            raise LineError(SYNTAX, f'expected "=" after label name "{lname}"', pos + 1)
        pos += 1
        if not om:
            pos = _BLANKS.match(line, pos).end()  # type: ignore[union-attr]
        if pos >= len(line) or line[pos] != '"':
            raise LineError(SYNTAX, f'expected a quoted value for label "{lname}"', pos + 1)
        vm = _LABEL_VALUE.match(line, pos + 1)
        if vm is None:
            raise LineError(SYNTAX, f'label value of "{lname}" is not terminated by "', pos + 1)
        value = _unescape(vm.group(1), pos + 2, '\\"n')
        if lname in seen or lname == "__name__":
            raise LineError(DUPLICATE_LABEL, f'duplicate label "{lname}"', lm.start() + 1)
        seen.add(lname)
        pairs.append((lname, value))
        pos = vm.end()
        if not om:
            pos = _BLANKS.match(line, pos).end()  # type: ignore[union-attr]
        if pos < len(line) and line[pos] == ",":
            pos += 1
            if om and pos < len(line) and line[pos] == "}":
                raise LineError(SYNTAX, "trailing comma in label set", pos)
            continue
        if pos < len(line) and line[pos] == "}":
            return name, pairs, pos + 1
        raise LineError(SYNTAX, 'expected "," or "}" after a label value', pos + 1)


def series_labels(key: str, om: bool) -> Labels:
    """Canonical labels of a whole series text such as `up{job="x"}`; empty values dropped."""
    name, pairs, end = scan_series(key, om)
    if end != len(key):
        raise LineError(
            SYNTAX, f"unexpected {_quote(key[end : end + 10])} after the series", end + 1
        )
    return _canonical(name, pairs)


def _canonical(name: str, pairs: list[tuple[str, str]]) -> Labels:
    items = [(k, v) for k, v in pairs if v != ""]
    items.append(("__name__", name))
    return tuple(sorted(items))


def parse_value(token: str, col: int) -> float:
    """A sample value: decimal or exponent forms, NaN, +Inf, -Inf (as Go's ParseFloat reads them)."""
    if "_" not in token and token.strip() == token:
        try:
            return float(token)
        except ValueError:
            pass
    raise LineError(INVALID_VALUE, f"invalid value {_quote(token)}", col)


def parse_timestamp(token: str, col: int, om: bool) -> int:
    """Milliseconds: an integer for the text format, (fractional) seconds for OpenMetrics."""
    if om:
        if _OM_TS.match(token):
            seconds = float(token)
            if math.isfinite(seconds) and abs(seconds) * 1000 < _INT64_MAX:
                return round(seconds * 1000)
    elif _INT.match(token):
        ms = int(token)
        if -_INT64_MAX <= ms <= _INT64_MAX:
            return ms
    raise LineError(INVALID_TIMESTAMP, f"invalid timestamp {_quote(token)}", col)


@dataclass(frozen=True)
class SampleLine:
    """A sample line split into its series text, value and optional timestamp."""

    series_end: int
    labels: Labels
    value: float
    timestamp_ms: int | None


def parse_sample_line(line: str, om: bool) -> SampleLine:
    """Scan one sample line fully; exemplars (`# {...} v [ts]`, OpenMetrics) are checked, then dropped."""
    name, pairs, end = scan_series(line, om)
    labels = _canonical(name, pairs)
    tokens, exemplar_col = _tokens(line, end, om)
    if not tokens:
        raise LineError(SYNTAX, "expected a value after the metric", len(line) + 1)
    if len(tokens) > 2:
        col, tok = tokens[2]
        raise LineError(SYNTAX, f"unexpected {_quote(tok)} after the sample", col)
    value = parse_value(tokens[0][1], tokens[0][0])
    ts = parse_timestamp(tokens[1][1], tokens[1][0], om) if len(tokens) == 2 else None
    if exemplar_col is not None:
        _check_exemplar(line, exemplar_col - 1, om)
    return SampleLine(end, labels, value, ts)


def _tokens(line: str, pos: int, om: bool) -> tuple[list[tuple[int, str]], int | None]:
    """Blank-separated tokens after `pos` with 1-based columns, and the column of an exemplar's #."""
    out: list[tuple[int, str]] = []
    n = len(line)
    while pos < n:
        start = _BLANKS.match(line, pos).end()  # type: ignore[union-attr]
        if start == n:
            if om:
                raise LineError(SYNTAX, "trailing whitespace", pos + 1)
            break
        if start == pos:
            raise LineError(SYNTAX, f"unexpected {_quote(line[pos])} after the series", pos + 1)
        if om and (start - pos != 1 or line[pos] != " "):
            raise LineError(SYNTAX, "expected exactly one space between tokens", pos + 1)
        tm = _TOKEN.match(line, start)
        token = tm.group(0) if tm else ""
        if om and token == "#" and out:
            return out, start + 1
        out.append((start + 1, token))
        pos = start + len(token)
    return out, None


def _check_exemplar(line: str, at: int, om: bool) -> None:
    """Validate an OpenMetrics exemplar (`# {labels} value [timestamp]`) so that it is ignored safely."""
    if not line.startswith("# {", at):
        raise LineError(SYNTAX, "expected a label set after the exemplar's #", at + 3)
    _, _, end = scan_series("x" + line[at + 2 :], om)
    pos = at + 1 + end  # index just past the exemplar's closing brace
    parts = line[pos:].split(" ")
    if len(parts) not in (2, 3) or parts[0] != "":
        raise LineError(SYNTAX, "an exemplar needs a value and an optional timestamp", pos + 1)
    parse_value(parts[1], pos + 2)
    if len(parts) == 3:
        parse_timestamp(parts[2], pos + 3 + len(parts[1]), om)


def parse_comment(line: str, om: bool) -> tuple[str, str, str] | None:
    """(`HELP`|`TYPE`|`UNIT`|`EOF`, metric, text) of a metadata line; None for a plain comment."""
    parts = line.split(" ", 3) if om else line[1:].lstrip(" \t").split(None, 2)
    if om:
        if line == "# EOF":
            return ("EOF", "", "")
        if len(parts) < 3 or parts[0] != "#" or parts[1] not in ("HELP", "TYPE", "UNIT"):
            raise LineError(SYNTAX, "OpenMetrics allows only # HELP, # TYPE, # UNIT and # EOF", 1)
        parts = parts[1:]
    elif not parts or parts[0] not in ("HELP", "TYPE"):
        return None
    kind, name = parts[0], parts[1] if len(parts) > 1 else ""
    text = parts[2] if len(parts) > 2 else ""
    if not METRIC_NAME_RE.fullmatch(name):
        raise LineError(INVALID_METRIC_NAME, f"invalid metric name {_quote(name)} in # {kind}", 3)
    if kind == "TYPE":
        text = text.rstrip(" \t") if not om else text
        allowed = OM_TYPES if om else TEXT_TYPES
        if text not in allowed:
            raise LineError(
                INVALID_METADATA,
                f"unknown metric type {_quote(text)} (allowed: {', '.join(sorted(allowed))})",
            )
    elif kind == "HELP":
        text = re.sub(r"\\(.)", lambda m: _UNESCAPE.get(m.group(1), m.group(0)), text)
    return kind, name, text
