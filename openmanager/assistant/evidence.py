"""Evidence: every figure the answer may use, each with the PromQL or alert it came from."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from openmanager.assistant.resolve import Resolution


@dataclass
class Fact:
    """One cited figure: `ref` is its citation mark, `source` the PromQL (or alert) behind it."""

    ref: str
    kind: str  # value | baseline | alert | anomaly | forecast | cause | query
    server: str
    topic: str
    value: float
    source: str
    time_ms: int
    labels: dict[str, str] = field(default_factory=dict)
    baseline_ref: str | None = None
    change: float | None = None
    """value / baseline, when a baseline was measured."""
    severity: float = 0.0
    """How far past normal (> 1 abnormal), from the topic's threshold or ratio."""
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the API and the interaction store."""
        return asdict(self)


@dataclass
class Evidence:
    """Everything gathered for one question, ready for a narrator."""

    question: str
    language: str
    time_ms: int
    resolution: Resolution
    facts: list[Fact] = field(default_factory=list)
    findings: list[Fact] = field(default_factory=list)
    """Abnormal figures, most likely cause first."""
    related: dict[str, list[str]] = field(default_factory=dict)
    """Server asked about -> the servers it depends on that were examined too."""
    passages: list[dict[str, Any]] = field(default_factory=list)
    incidents: list[dict[str, Any]] = field(default_factory=list)
    known_servers: int = 0
    rca_rank: dict[tuple[str, str], int] = field(default_factory=dict)
    """(server, topic) -> place in the incidents' root-cause ranking."""

    def cite(self, fact: Fact) -> Fact:
        """Add a fact with the next citation mark."""
        fact.ref = str(len(self.facts) + 1)
        self.facts.append(fact)
        return fact

    def fact(self, ref: str) -> Fact | None:
        """The fact cited as `ref`."""
        return next((f for f in self.facts if f.ref == ref), None)

    def numbers(self) -> list[float]:
        """Every number the evidence holds (values, baselines, changes), for answer checking."""
        out: list[float] = []
        for f in self.facts:
            out.append(f.value)
            if f.change is not None:
                out.append(f.change)
        for inc in self.incidents:
            for c in inc.get("causes", []):
                if isinstance(c.get("score"), int | float):
                    out.append(float(c["score"]))
                for e in c.get("evidence", []):
                    for key in ("before", "after", "change", "z"):
                        if isinstance(e.get(key), int | float):
                            out.append(float(e[key]))
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the API and the interaction store."""
        r = self.resolution
        return {
            "question": self.question,
            "language": self.language,
            "time_ms": self.time_ms,
            "servers": r.servers,
            "metrics": r.metrics,
            "topics": [t.name for t in r.topics],
            "unknown": [u.to_dict() for u in r.unknown],
            "corrected": r.corrected,
            "related": self.related,
            "facts": [f.to_dict() for f in self.facts],
            "findings": [f.ref for f in self.findings],
            "passages": self.passages,
            "incidents": self.incidents,
        }
