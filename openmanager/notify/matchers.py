"""Alertmanager label matchers (`name="value"`, `=~`, `!=`, `!~`), parsed as Alertmanager 0.25 does."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from openmanager.promql.re2compat import re2_to_python

LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_MATCHER = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|!=|!~|=)\s*(.*?)\s*$", re.S)


class MatcherError(ValueError):
    """A matcher string or regex that Alertmanager would reject."""


@dataclass(frozen=True)
class Matcher:
    """One label matcher; regexes are anchored at both ends as in Alertmanager."""

    name: str
    op: str
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def make(cls, name: str, op: str, value: str) -> Matcher:
        """A matcher, compiling its regex (raises MatcherError for a bad one)."""
        regex = None
        if op in ("=~", "!~"):
            try:
                regex = re.compile("^(?:" + re2_to_python(value) + ")$", re.S)
            except re.error as exc:
                raise MatcherError(f"invalid regular expression {value!r}: {exc}") from exc
        return cls(name, op, value, regex)

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a label set satisfies this matcher (a missing label is the empty string)."""
        v = labels.get(self.name, "")
        if self.op == "=":
            return v == self.value
        if self.op == "!=":
            return v != self.value
        assert self._regex is not None
        hit = self._regex.match(v) is not None
        return hit if self.op == "=~" else not hit

    @property
    def is_regex(self) -> bool:
        return self.op in ("=~", "!~")

    @property
    def is_equal(self) -> bool:
        return self.op in ("=", "=~")

    def __str__(self) -> str:
        return f"{self.name}{self.op}{json.dumps(self.value)}"

    def to_json(self) -> dict[str, object]:
        """Alertmanager API v2 shape."""
        return {
            "name": self.name,
            "value": self.value,
            "isRegex": self.is_regex,
            "isEqual": self.is_equal,
        }


def matches_all(matchers: Sequence[Matcher], labels: Mapping[str, str]) -> bool:
    """All matchers hold (an empty list matches everything)."""
    return all(m.matches(labels) for m in matchers)


def _split(text: str) -> list[str]:
    """Split on commas that are outside double quotes."""
    parts, buf, quoted, escaped = [], [], False, False
    for ch in text:
        if escaped:
            buf.append(ch)
            escaped = False
            continue
        if ch == "\\" and quoted:
            buf.append(ch)
            escaped = True
            continue
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            parts.append("".join(buf))
            buf = []
            continue
        buf.append(ch)
    if quoted:
        raise MatcherError(f"unterminated quoted string in {text!r}")
    parts.append("".join(buf))
    return parts


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        try:
            out = json.loads(value)
        except json.JSONDecodeError as exc:
            raise MatcherError(f"invalid quoted value {value}: {exc.msg}") from exc
        return str(out)
    if '"' in value:
        raise MatcherError(f"value {value!r} has an unbalanced quote")
    return value


def parse_matchers(text: str) -> list[Matcher]:
    """Matchers in one string: `a="b", c=~"d.*"` with or without surrounding braces."""
    s = text.strip()
    if s.startswith("{") != s.endswith("}"):
        raise MatcherError(f"bad matcher format: {text!r}")
    if s.startswith("{"):
        s = s[1:-1]
    out: list[Matcher] = []
    parts = _split(s)
    if len(parts) > 1 and not parts[-1].strip():
        parts.pop()  # a trailing comma is allowed
    for part in parts:
        if not part.strip():
            raise MatcherError(f"bad matcher format: {text!r}")
        m = _MATCHER.match(part)
        if m is None:
            raise MatcherError(f"bad matcher format: {part.strip()!r}")
        out.append(Matcher.make(m.group(1), m.group(2), _unquote(m.group(3))))
    return out


def from_json(obj: Mapping[str, object]) -> Matcher:
    """A matcher from the API v2 JSON shape (isEqual defaults to true)."""
    name, value = str(obj.get("name", "")), str(obj.get("value", ""))
    if not LABEL_NAME.match(name):
        raise MatcherError(f"invalid label name {name!r}")
    regex, equal = bool(obj.get("isRegex", False)), bool(obj.get("isEqual", True))
    op = {(False, True): "=", (False, False): "!=", (True, True): "=~", (True, False): "!~"}
    return Matcher.make(name, op[(regex, equal)], value)
