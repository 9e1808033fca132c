"""Prometheus relabelling: `replace keep drop labelmap labeldrop labelkeep hashmod`.

Semantics follow Prometheus's `model/relabel`: source label values are joined by the
separator, the regex is fully anchored, `$1`/`${1}`/`${name}` expand in replacements (and in
`replace`'s target label), an empty result deletes the target label, and `hashmod` takes the
last 8 bytes of the MD5 of the joined values, big-endian, modulo `modulus`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from openmanager.config.scrape import RelabelConfig

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_TEMPLATE = re.compile(r"\$(?:\$|\{([a-zA-Z0-9_]+)\}|([a-zA-Z0-9_]+))")


@dataclass(frozen=True)
class CompiledRule:
    """A relabel rule with its regex compiled once."""

    config: RelabelConfig
    regex: re.Pattern[str]


def compile_rules(configs: Sequence[RelabelConfig]) -> list[CompiledRule]:
    """Compile each rule's regex (anchored by using `fullmatch`)."""
    return [CompiledRule(c, _compile(c.regex)) for c in configs]


@lru_cache(maxsize=1024)
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def expand(template: str, match: re.Match[str]) -> str:
    """Go's `Regexp.Expand`: `$1`, `${1}`, `$name`, `${name}`, `$$`; unknown groups expand to ''."""

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        ref = m.group(1) or m.group(2)
        try:
            value = match.group(int(ref)) if ref.isdigit() else match.group(ref)
        except IndexError:  # no such group
            return ""
        return value or ""

    return _TEMPLATE.sub(sub, template)


def relabel(labels: dict[str, str], rules: Sequence[CompiledRule]) -> dict[str, str] | None:
    """Apply the rules in order; None when a rule drops the label set."""
    out = dict(labels)
    for rule in rules:
        cfg = rule.config
        value = cfg.separator.join(out.get(name, "") for name in cfg.source_labels)
        action = cfg.action
        if action == "drop":
            if rule.regex.fullmatch(value):
                return None
        elif action == "keep":
            if not rule.regex.fullmatch(value):
                return None
        elif action == "replace":
            m = rule.regex.fullmatch(value)
            if m is None:
                continue
            target = expand(cfg.target_label, m)
            if not _LABEL_NAME.fullmatch(target):
                continue
            result = expand(cfg.replacement, m)
            if result:
                out[target] = result
            else:
                out.pop(target, None)
        elif action == "hashmod":
            digest = hashlib.md5(value.encode()).digest()
            out[cfg.target_label] = str(int.from_bytes(digest[8:], "big") % cfg.modulus)
        elif action == "labelmap":
            for name, val in list(out.items()):
                m = rule.regex.fullmatch(name)
                if m is not None:
                    out[expand(cfg.replacement, m)] = val
        elif action == "labeldrop":
            out = {k: v for k, v in out.items() if not rule.regex.fullmatch(k)}
        elif action == "labelkeep":
            out = {k: v for k, v in out.items() if rule.regex.fullmatch(k)}
    return {k: v for k, v in out.items() if v != ""}
