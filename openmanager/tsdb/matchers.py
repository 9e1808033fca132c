"""Label matchers (`=`, `!=`, `=~`, `!~`) with Prometheus semantics (regexes fully anchored)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property

from openmanager.errors import InvalidInput
from openmanager.samples import Labels, labels_get


class MatchType(StrEnum):
    """The four matcher operators of PromQL."""

    EQ = "="
    NEQ = "!="
    RE = "=~"
    NRE = "!~"


@dataclass(frozen=True)
class Matcher:
    """One `name op "value"` condition on a series' labels; a missing label matches as ''."""

    name: str
    type: MatchType
    value: str

    @cached_property
    def regex(self) -> re.Pattern[str]:
        try:
            return re.compile(f"^(?s:{self.value})$")
        except re.error as exc:
            raise InvalidInput(
                f"invalid regular expression {self.value!r} for label {self.name!r}: {exc}"
            ) from exc

    def matches(self, value: str) -> bool:
        """Whether a label value (use '' for a missing label) satisfies this matcher."""
        if self.type is MatchType.EQ:
            return value == self.value
        if self.type is MatchType.NEQ:
            return value != self.value
        hit = self.regex.match(value) is not None
        return hit if self.type is MatchType.RE else not hit

    def matches_empty(self) -> bool:
        """Whether a series without this label would match (needed to plan index lookups)."""
        return self.matches("")

    def __str__(self) -> str:
        return f'{self.name}{self.type.value}"{self.value}"'


def eq(name: str, value: str) -> Matcher:
    """Shorthand for an equality matcher."""
    return Matcher(name, MatchType.EQ, value)


def matches_all(labels: Labels, matchers: list[Matcher] | tuple[Matcher, ...]) -> bool:
    """Whether a series satisfies every matcher."""
    return all(m.matches(labels_get(labels, m.name)) for m in matchers)
