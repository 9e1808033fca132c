"""One log line (time, server, source, level, message) and the level scale searches filter on."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from openmanager.errors import InvalidInput

LEVELS = ("debug", "info", "warning", "error", "critical")
"""Severity names, least severe first; a level filter keeps that level and every one above."""

_ALIASES = {
    "trace": "debug",
    "notice": "info",
    "warn": "warning",
    "err": "error",
    "fatal": "critical",
    "crit": "critical",
    "alert": "critical",
    "emerg": "critical",
    "panic": "critical",
}


def level_number(name: str) -> int:
    """Index of a level name (or common alias such as `warn`, `fatal`) in LEVELS."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    try:
        return LEVELS.index(key)
    except ValueError:
        known = ", ".join(LEVELS)
        raise InvalidInput(f"unknown log level {name!r}; known: {known}") from None


_SYSLOG_PRI = re.compile(r"^<(\d{1,3})>")
_WORD = re.compile(
    r"\b(TRACE|DEBUG|INFO|NOTICE|WARN(?:ING)?|ERR(?:OR)?|CRIT(?:ICAL)?|FATAL|ALERT|EMERG|PANIC)\b"
    r"|level=(\w+)",
    re.IGNORECASE,
)
_ERROR_HINTS = re.compile(
    r"out of memory|oom-kill|segfault|no space left on device|traceback|exception|failed",
    re.IGNORECASE,
)
_SYSLOG_SEVERITY = ("critical", "critical", "critical", "error", "warning", "info", "info", "debug")


def parse_level(line: str, default: str = "info") -> str:
    """The level a raw log line states: syslog <PRI>, a level word (`ERROR`, `[warn]`,
    `level=error`), else error hints (`Out of memory`, `Traceback`...), else `default`."""
    m = _SYSLOG_PRI.match(line)
    if m:
        return _SYSLOG_SEVERITY[int(m.group(1)) % 8]
    m = _WORD.search(line[:200])
    if m:
        word = m.group(1) or m.group(2)
        try:
            return LEVELS[level_number(word)]
        except InvalidInput:
            pass
    if _ERROR_HINTS.search(line):
        return "error"
    return default


def iso_ms(ms: int) -> str:
    """RFC 3339 UTC time with milliseconds."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


@dataclass(frozen=True)
class LogRecord:
    """A stored log line; `source` is the log it came from (e.g. `syslog`, `postgresql`)."""

    ts_ms: int
    server: str
    level: str
    source: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the API, the stream and JSON lines files."""
        return {
            "time_ms": self.ts_ms,
            "time": iso_ms(self.ts_ms),
            "server": self.server,
            "level": self.level,
            "source": self.source,
            "message": self.message,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LogRecord:
        """Inverse of `to_dict`."""
        return cls(int(d["time_ms"]), d["server"], d["level"], d["source"], d["message"])
