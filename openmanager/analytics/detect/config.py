"""Frozen detector configs that round-trip through plain dicts (JSON-safe)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Self

from openmanager.errors import InvalidInput


@dataclass(frozen=True)
class DetectorConfig:
    """Settings every detector shares: samples before scoring starts; counters are scored as rates."""

    warmup: int = 32
    counter: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the fields (tuples become lists)."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Build from a dict; unknown keys are an error naming them."""
        names = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise InvalidInput(f"{cls.__name__}: unknown setting(s) {', '.join(unknown)}")
        kwargs: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in data.items()
        }
        try:
            cfg = cls(**kwargs)
        except TypeError as exc:
            raise InvalidInput(f"{cls.__name__}: {exc}") from exc
        cfg.validate()
        return cfg

    def validate(self) -> None:
        """Reject out-of-range values."""
        if self.warmup < 1:
            raise InvalidInput(f"warmup must be >= 1, got {self.warmup}")


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
