"""The functions alert templates can call: Go's text/template built-ins and Prometheus's own.

Output matches Prometheus (template/template.go): `humanize 1234567` is `1.235M`,
`humanizeDuration 90` is `1m 30s`, `humanizePercentage 0.1234` is `12.34%`.
"""

from __future__ import annotations

import html
import math
import re
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from openmanager.rules.gofmt import format_float, sprint, sprintf

QueryFn = Callable[[str, int], list[tuple[dict[str, str], float]]]
"""Runs a PromQL instant query at a time (ms): [(labels, value), ...]."""


@dataclass
class Sample:
    """One element of a `query` result, as templates see it (`.Labels`, `.Value`)."""

    Labels: dict[str, str]  # noqa: N815 - Go field names, templates refer to them
    Value: float  # noqa: N815


def truth(value: Any) -> bool:
    """Go template truthiness: false, 0, nil, and empty strings, maps and slices are false."""
    if value is None:
        return False
    if isinstance(value, (bool, int, float, str, list, tuple, dict)):
        return bool(value)
    return True


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"can't convert {sprint(value)} to float")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return _parse_go_float(value)
        except ValueError as exc:
            raise ValueError(f'strconv.ParseFloat: parsing "{value}": invalid syntax') from exc
    raise ValueError(f"can't convert {type(value).__name__} to float")


def _parse_go_float(text: str) -> float:
    low = text.lower().lstrip("+-")
    if low in ("inf", "infinity"):
        return -math.inf if text.startswith("-") else math.inf
    if low == "nan":
        return math.nan
    return float(text)


def _g4(v: float) -> str:
    return format_float(v, "g", 4)


def humanize(value: Any) -> str:
    v = _to_float(value)
    if v == 0 or math.isnan(v) or math.isinf(v):
        return _g4(v)
    if abs(v) >= 1:
        prefix = ""
        for p in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(v) < 1000:
                break
            prefix = p
            v /= 1000
        return _g4(v) + prefix
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(v) >= 1:
            break
        prefix = p
        v *= 1000
    return _g4(v) + prefix


def humanize1024(value: Any) -> str:
    v = _to_float(value)
    if abs(v) <= 1 or math.isnan(v) or math.isinf(v):
        return _g4(v)
    prefix = ""
    for p in ("ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"):
        if abs(v) < 1024:
            break
        prefix = p
        v /= 1024
    return _g4(v) + prefix


def humanize_duration(value: Any) -> str:
    v = _to_float(value)
    if math.isnan(v) or math.isinf(v):
        return _g4(v)
    if v == 0:
        return _g4(v) + "s"
    if abs(v) >= 1:
        sign = ""
        if v < 0:
            sign, v = "-", -v
        duration = int(v)
        seconds = duration % 60
        minutes = (duration // 60) % 60
        hours = (duration // 3600) % 24
        days = duration // 86400
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {seconds}s"
        if minutes:
            return f"{sign}{minutes}m {seconds}s"
        return f"{sign}{_g4(v)}s"
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(v) >= 1:
            break
        prefix = p
        v *= 1000
    return f"{_g4(v)}{prefix}s"


def humanize_percentage(value: Any) -> str:
    return _g4(_to_float(value) * 100) + "%"


def _to_time(value: Any) -> datetime:
    v = _to_float(value)
    if math.isnan(v) or math.isinf(v):
        raise ValueError(f"cannot convert {_g4(v)} to time")
    ns = round(v * 1e9)
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ns // 1000)


def _go_time_string(t: datetime) -> str:
    frac = f"{t.microsecond:06d}".rstrip("0")
    base = t.strftime("%Y-%m-%d %H:%M:%S")
    return f"{base}{'.' + frac if frac else ''} +0000 UTC"


def humanize_timestamp(value: Any) -> str:
    v = _to_float(value)
    if math.isnan(v) or math.isinf(v):
        return _g4(v)
    return _go_time_string(_to_time(v))


def title(text: str) -> str:
    """Go's strings.Title: upper-case the first letter of each word."""
    out, prev_sep = [], True
    for ch in text:
        out.append(ch.upper() if prev_sep else ch)
        prev_sep = not (ch.isalnum() or ch == "_") if ch.isascii() else ch.isspace()
    return "".join(out)


def _go_repl(repl: str) -> str:
    """A Go regexp replacement ($1, ${name}) as Python's re.sub template."""
    out = []
    i = 0
    while i < len(repl):
        c = repl[i]
        if c == "$" and i + 1 < len(repl):
            if repl[i + 1] == "$":
                out.append("$")
                i += 2
                continue
            m = re.match(r"\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+)", repl[i + 1 :])
            if m:
                out.append(f"\\g<{m.group(1) or m.group(2)}>")
                i += 1 + m.end()
                continue
        out.append("\\\\" if c == "\\" else c)
        i += 1
    return "".join(out)


def re_replace_all(pattern: str, repl: str, text: str) -> str:
    rx = re.compile(pattern)
    template = _go_repl(repl)

    def sub(m: re.Match[str]) -> str:
        try:
            return m.expand(template)
        except (IndexError, re.error):
            return ""

    return rx.sub(sub, text)


def _cmp_operands(a: Any, b: Any) -> tuple[Any, Any]:
    num = (int, float)
    if isinstance(a, bool) or isinstance(b, bool):
        if type(a) is not type(b):
            raise ValueError("incompatible types for comparison")
        return a, b
    if isinstance(a, num) and isinstance(b, num):
        if type(a) is not type(b):
            raise ValueError("incompatible types for comparison")
        return a, b
    if isinstance(a, str) and isinstance(b, str):
        return a, b
    raise ValueError("incompatible types for comparison")


def _eq(a: Any, *bs: Any) -> bool:
    if not bs:
        raise ValueError("missing argument for comparison")
    for b in bs:
        x, y = _cmp_operands(a, b)
        if x == y:
            return True
    return False


def _lt(a: Any, b: Any) -> bool:
    x, y = _cmp_operands(a, b)
    if isinstance(x, bool):
        raise ValueError("invalid type for comparison")
    return bool(x < y)


def _index(item: Any, *keys: Any) -> Any:
    for k in keys:
        if isinstance(item, Mapping):
            item = item.get(k, "")
        else:
            item = item[k]
    return item


def _go_print(*args: Any) -> str:
    out = []
    for i, a in enumerate(args):
        if i > 0 and not isinstance(a, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(sprint(a))
    return "".join(out)


def _first(results: Sequence[Sample]) -> Sample:
    if not results:
        raise ValueError("first() called on vector with no elements")
    return results[0]


def _label(name: str, sample: Sample) -> str:
    return sample.Labels.get(name, "")


def _value(sample: Sample) -> float:
    return sample.Value


def _strvalue(sample: Sample) -> str:
    return sample.Labels.get("__value__", "")


def _sort_by_label(name: str, results: Sequence[Sample]) -> list[Sample]:
    return sorted(results, key=lambda s: s.Labels.get(name, ""))


def _strip_port(host: str) -> str:
    if host.startswith("["):
        end = host.find("]")
        return host[1:end] if end > 0 else host
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host


def _strip_domain(host: str) -> str:
    port = ""
    if host.count(":") == 1:
        host, port = host.split(":", 1)
        port = ":" + port
    if re.fullmatch(r"[0-9.]+", host):
        return host + port
    return host.split(".", 1)[0] + port


def _parse_duration(text: str) -> float:
    from openmanager.rules.rulefile import parse_duration

    return parse_duration(text) / 1000


def graph_link(expr: str) -> str:
    return f"/graph?g0.expr={urllib.parse.quote_plus(expr)}&g0.tab=0"


def table_link(expr: str) -> str:
    return f"/graph?g0.expr={urllib.parse.quote_plus(expr)}&g0.tab=1"


def _js(text: Any) -> str:
    s = sprint(text)
    repl = {
        "\\": "\\\\",
        "'": "\\'",
        '"': '\\"',
        "<": "\\u003C",
        ">": "\\u003E",
        "&": "\\u0026",
        "=": "\\u003D",
    }
    return "".join(repl.get(c, c) for c in s)


BUILTINS: dict[str, Callable[..., Any]] = {
    "and": lambda *a: a[-1],
    "or": lambda *a: a[-1],
    "not": lambda a: not truth(a),
    "len": lambda a: len(a),
    "index": _index,
    "print": _go_print,
    "printf": lambda f, *a: sprintf(f, *a),
    "println": lambda *a: " ".join(sprint(x) for x in a) + "\n",
    "eq": _eq,
    "ne": lambda a, b: not _eq(a, b),
    "lt": _lt,
    "le": lambda a, b: _lt(a, b) or _eq(a, b),
    "gt": lambda a, b: not (_lt(a, b) or _eq(a, b)),
    "ge": lambda a, b: not _lt(a, b),
    "html": lambda *a: html.escape(_go_print(*a), quote=True).replace("&#x27;", "&#39;"),
    "js": lambda *a: _js(_go_print(*a)),
    "urlquery": lambda *a: urllib.parse.quote_plus(_go_print(*a)),
    "slice": lambda s, *ix: s[slice(*ix)] if ix else s,
    "call": lambda f, *a: f(*a),
}

PROMETHEUS_FUNCS = (
    "query first label value strvalue sortByLabel args safeHtml match reReplaceAll title toUpper "
    "toLower graphLink tableLink humanize humanize1024 humanizeDuration humanizePercentage "
    "humanizeTimestamp toTime toDuration parseDuration pathPrefix externalURL stripPort "
    "stripDomain"
).split()


def function_table(
    time_ms: int, external_url: str, query: QueryFn | None
) -> dict[str, Callable[..., Any]]:
    """Every function a template may call, bound to the evaluation time and external URL."""

    def run_query(q: str) -> list[Sample]:
        if query is None:
            raise ValueError("query is not available here")
        return [Sample(dict(lbl), v) for lbl, v in query(q, time_ms)]

    def args(*a: Any) -> dict[str, Any]:
        return {f"arg{i}": v for i, v in enumerate(a)}

    path = urllib.parse.urlparse(external_url).path
    table: dict[str, Callable[..., Any]] = dict(BUILTINS)
    table.update(
        {
            "query": run_query,
            "first": _first,
            "label": _label,
            "value": _value,
            "strvalue": _strvalue,
            "sortByLabel": _sort_by_label,
            "args": args,
            "safeHtml": lambda s: s,
            "match": lambda p, s: re.search(p, s) is not None,
            "reReplaceAll": re_replace_all,
            "title": title,
            "toUpper": lambda s: s.upper(),
            "toLower": lambda s: s.lower(),
            "graphLink": graph_link,
            "tableLink": table_link,
            "humanize": humanize,
            "humanize1024": humanize1024,
            "humanizeDuration": humanize_duration,
            "humanizePercentage": humanize_percentage,
            "humanizeTimestamp": humanize_timestamp,
            "toTime": _to_time,
            "toDuration": lambda v: timedelta(seconds=_to_float(v)),
            "parseDuration": _parse_duration,
            "pathPrefix": lambda: path,
            "externalURL": lambda: external_url,
            "stripPort": _strip_port,
            "stripDomain": _strip_domain,
        }
    )
    return table
