"""Ground truth records and the effects a fault applies to a server's latent signals."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from openmanager.simulate.noise import F64, I64


def iso(ms: int) -> str:
    """RFC 3339 UTC time of a millisecond timestamp."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Affected:
    """One metric of one server that deviates because of a fault, and when."""

    server: str
    metric: str
    start_ms: int
    end_ms: int
    labels: tuple[tuple[str, str], ...] = ()
    effect: str = ""

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Affected:
        """Inverse of `to_dict`."""
        labels = tuple(sorted(d.get("labels", {}).items()))
        return cls(
            d["server"], d["metric"], d["start_ms"], d["end_ms"], labels, d.get("effect", "")
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the ground-truth JSON."""
        return {
            "server": self.server,
            "metric": self.metric,
            "labels": dict(self.labels),
            "effect": self.effect,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "start": iso(self.start_ms),
            "end": iso(self.end_ms),
        }


@dataclass(frozen=True)
class Effect:
    """A change to one latent channel of one server: rises over `ramp_ms`, falls over `fall_ms`."""

    server: int
    channel: str
    start_ms: int
    end_ms: int
    magnitude: float
    ramp_ms: int = 0
    fall_ms: int = 0

    def profile(self, t_ms: I64) -> F64:
        """Strength in [0, 1] at each time; exactly 0 outside [start, end)."""
        t = np.asarray(t_ms, dtype=np.int64)
        up = np.clip((t - self.start_ms + 1) / max(self.ramp_ms, 1), 0.0, 1.0)
        down = np.clip((self.end_ms - t) / max(self.fall_ms, 1), 0.0, 1.0)
        out: F64 = np.where((t >= self.start_ms) & (t < self.end_ms), np.minimum(up, down), 0.0)
        return out


@dataclass(frozen=True)
class FaultRecord:
    """One injected fault: its root cause, every affected metric with its own window, its cause."""

    id: str
    scenario: str
    root_server: str
    root_metric: str
    start_ms: int
    end_ms: int
    affected: tuple[Affected, ...]
    source: str = "scheduled"
    root_labels: tuple[tuple[str, str], ...] = ()
    restart_ms: int | None = None
    description: str = ""
    effects: tuple[Effect, ...] = field(default=(), repr=False, compare=False)

    @property
    def servers(self) -> tuple[str, ...]:
        """Every server the fault touches, root first."""
        seen = dict.fromkeys([self.root_server, *(a.server for a in self.affected)])
        return tuple(seen)

    def active_at(self, t_ms: int) -> bool:
        """Whether any part of the fault is under way at `t_ms`."""
        return self.start_ms <= t_ms < max([self.end_ms, *(a.end_ms for a in self.affected)])

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FaultRecord:
        """Inverse of `to_dict` (the internal effects are not part of the JSON)."""
        root = d["root_cause"]
        return cls(
            id=d["id"],
            scenario=d["scenario"],
            root_server=root["server"],
            root_metric=root["metric"],
            start_ms=d["start_ms"],
            end_ms=d["end_ms"],
            affected=tuple(Affected.from_dict(a) for a in d["affected"]),
            source=d.get("source", "scheduled"),
            root_labels=tuple(sorted(root.get("labels", {}).items())),
            restart_ms=d.get("restart_ms"),
            description=d.get("description", ""),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the ground-truth JSON."""
        out: dict[str, Any] = {
            "id": self.id,
            "scenario": self.scenario,
            "description": self.description,
            "source": self.source,
            "root_cause": {
                "server": self.root_server,
                "metric": self.root_metric,
                "labels": dict(self.root_labels),
            },
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "start": iso(self.start_ms),
            "end": iso(self.end_ms),
            "affected_servers": list(self.servers),
            "affected": [a.to_dict() for a in self.affected],
        }
        if self.restart_ms is not None:
            out["restart_ms"] = self.restart_ms
        return out


@dataclass(frozen=True)
class GroundTruth:
    """The faults injected over a simulated time range, exportable as JSON."""

    seed: int
    start_ms: int
    end_ms: int
    faults: tuple[FaultRecord, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain data: the range, the seed and every fault in start order."""
        return {
            "seed": self.seed,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "start": iso(self.start_ms),
            "end": iso(self.end_ms),
            "faults": [f.to_dict() for f in self.faults],
        }

    def to_json(self, indent: int | None = 1) -> str:
        """The ground truth as a JSON document."""
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str) -> GroundTruth:
        """Read a document written by `to_json` (e.g. ground_truth.json of a backfill)."""
        d = json.loads(text)
        faults = tuple(FaultRecord.from_dict(f) for f in d["faults"])
        return cls(d["seed"], d["start_ms"], d["end_ms"], faults)
