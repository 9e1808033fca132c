"""Which servers and metrics a question is about: exact names, close spellings, and topics.

A name that matches no server is never guessed at: it is reported as unknown together with
the closest known names, so the answer can say "did you mean ...".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz, process

from openmanager.assistant.topics import BY_NAME, TOPICS, Topic

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]*[A-Za-z0-9]|[A-Za-z0-9]")
_NOT_A_HOST = re.compile(r"^(p\d{1,3}|\d+[a-z]{0,3}|[0-9.]+|[a-z]\d)$", re.IGNORECASE)
METRIC_TOPICS = (
    ("filesystem", "disk"), ("disk", "disk"), ("memory", "memory"), ("cpu", "cpu"),
    ("load", "cpu"), ("network", "network"), ("duration", "latency"),
    ("http_requests", "errors"), ("service_up", "service"),
)  # fmt: skip
CLOSEST = 3


@dataclass
class Unknown:
    """A name in the question that matches nothing, with the closest known names."""

    name: str
    kind: str  # server | metric
    closest: list[str]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the API."""
        return {"name": self.name, "kind": self.kind, "closest": self.closest}


@dataclass
class Resolution:
    """What the question is about."""

    servers: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)
    topics: list[Topic] = field(default_factory=list)
    unknown: list[Unknown] = field(default_factory=list)
    corrected: dict[str, str] = field(default_factory=dict)
    """Spellings read as a known name (`db-primary` -> `db-primary-01`)."""


def _squash(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _host(token: str) -> str:
    """`db-primary-01:9100` -> `db-primary-01`."""
    return token.split(":", 1)[0].rstrip(".")


def _looks_like_host(token: str) -> bool:
    if _NOT_A_HOST.match(token) or "_" in token:
        return False
    has_alpha = any(c.isalpha() for c in token)
    return has_alpha and ("-" in token or "." in token or any(c.isdigit() for c in token))


def _closest(name: str, known: Sequence[str]) -> list[str]:
    found = process.extract(name, list(known), scorer=fuzz.WRatio, limit=CLOSEST)
    return [m[0] for m in found]


def _match_server(token: str, servers: Sequence[str]) -> str | None:
    """A known server this token unambiguously names (exact, spelling, or unique prefix)."""
    host = _host(token)
    lowered = {s.lower(): s for s in servers}
    if host.lower() in lowered:
        return lowered[host.lower()]
    squashed = [s for s in servers if _squash(s) == _squash(host)]
    if len(squashed) == 1:
        return squashed[0]
    prefixed = [s for s in servers if s.lower().startswith(host.lower() + "-")]
    return prefixed[0] if len(prefixed) == 1 else None


def _topics_in(question: str) -> list[Topic]:
    text = question.lower()
    found: list[Topic] = []
    for topic in TOPICS:
        for word in topic.words:
            hit = word in text if not word.isascii() else re.search(rf"\b{re.escape(word)}", text)
            if hit:
                found.append(topic)
                break
    return found


def resolve(question: str, servers: Sequence[str], metrics: Sequence[str]) -> Resolution:
    """Servers, metrics and topics named in `question` against the known names."""
    res = Resolution()
    known_metrics = set(metrics)
    for token in _WORD.findall(question):
        server = _match_server(token, servers)
        if server is not None:
            if server not in res.servers:
                res.servers.append(server)
            if _host(token) != server:
                res.corrected[token] = server
            continue
        if "_" in token and len(token) > 3:
            if token in known_metrics:
                res.metrics.append(token)
            else:
                res.unknown.append(Unknown(token, "metric", _closest(token, metrics)))
            continue
        if _looks_like_host(token) and servers:
            res.unknown.append(Unknown(_host(token), "server", _closest(_host(token), servers)))
    res.topics = _topics_in(question)
    for metric in res.metrics:
        for part, name in METRIC_TOPICS:
            if part in metric and BY_NAME[name] not in res.topics:
                res.topics.append(BY_NAME[name])
                break
    return res
