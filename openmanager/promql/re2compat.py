"""Translate RE2 (Go) regex syntax that Python's `re` rejects into an equivalent Python pattern.

Go allows flag groups like `(?i)` anywhere and applies them to the rest of the enclosing group;
Python only allows them at the very start. We rewrite them as scoped groups `(?i:...)`.
"""

from __future__ import annotations

import re

_FLAGS = re.compile(r"\(\?([imsU-]+)\)")


def re2_to_python(pattern: str) -> str:
    """The pattern with mid-pattern flag groups scoped to the rest of their enclosing group."""
    if "(?" not in pattern and "\\z" not in pattern:
        return pattern
    out: list[str] = []
    pending = [0]  # scoped groups to close at the end of each nesting level
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            out.append("\\Z" if pattern[i + 1] == "z" else pattern[i : i + 2])
            i += 2
            continue
        if c == "[":
            j = i + 1
            if j < n and pattern[j] == "^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            out.append(pattern[i : j + 1])
            i = j + 1
            continue
        m = _FLAGS.match(pattern, i)
        if m is not None:
            out.append(f"(?{m.group(1)}:")
            pending[-1] += 1
            i = m.end()
            continue
        if c == "(":
            pending.append(0)
            out.append(c)
        elif c == ")" and len(pending) > 1:
            out.append(")" * pending.pop())
            out.append(c)
        else:
            out.append(c)
        i += 1
    out.append(")" * pending[0])
    return "".join(out)
