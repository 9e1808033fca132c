"""Prometheus-style durations (`15s`, `5m`, `1h30m`, `7d`) to milliseconds and back."""

from __future__ import annotations

import re

from openmanager.errors import InvalidInput

_UNITS_MS = {
    "ms": 1,
    "s": 1000,
    "m": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
    "w": 604_800_000,
    "y": 31_536_000_000,
}
_PART = re.compile(r"(\d+)(ms|[smhdwy])")


def parse_duration(text: str) -> int:
    """Milliseconds in a duration like `1h30m`; raises InvalidInput naming the text otherwise."""
    s = text.strip()
    if not s:
        raise InvalidInput("empty duration")
    pos, total = 0, 0
    for m in _PART.finditer(s):
        if m.start() != pos:
            break
        total += int(m.group(1)) * _UNITS_MS[m.group(2)]
        pos = m.end()
    if pos != len(s):
        raise InvalidInput(
            f"invalid duration {text!r}: use a number and a unit (ms, s, m, h, d, w, y), e.g. 15s or 1h30m"
        )
    return total


def format_duration(ms: int) -> str:
    """Shortest Prometheus duration text for a whole number of milliseconds."""
    if ms == 0:
        return "0s"
    out = []
    for unit in ("y", "w", "d", "h", "m", "s", "ms"):
        size = _UNITS_MS[unit]
        if ms >= size:
            out.append(f"{ms // size}{unit}")
            ms %= size
    return "".join(out)
