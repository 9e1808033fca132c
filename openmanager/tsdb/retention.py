"""Retention per tier: which whole blocks have aged out, and the rule protecting raw data.

A block goes once its newest sample is older than `now - retention`; a raw block stays, even
past its retention, until every downsampling period it touches has been rolled up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from openmanager.errors import InvalidInput
from openmanager.tsdb.block_format import TIERS, BlockMeta

DEFAULT_RETENTION_MS: dict[str, int] = {
    "raw": 7 * 86_400_000,
    "1m": 30 * 86_400_000,
    "5m": 90 * 86_400_000,
    "1h": 365 * 86_400_000,
}


def validate_retention(retention_ms: Mapping[str, int]) -> dict[str, int]:
    """Retention per tier with defaults filled in; 0 or less keeps a tier forever."""
    unknown = set(retention_ms) - set(TIERS)
    if unknown:
        raise InvalidInput(
            f"unknown retention tier(s) {sorted(unknown)}; tiers are {', '.join(TIERS)}"
        )
    return {**DEFAULT_RETENTION_MS, **{k: int(v) for k, v in retention_ms.items()}}


def expired_blocks(
    metas: Sequence[BlockMeta],
    retention_ms: int,
    now_ms: int,
    *,
    keep: Callable[[BlockMeta], bool] | None = None,
) -> list[BlockMeta]:
    """Blocks whose max time is before `now - retention`, except those `keep` protects."""
    if retention_ms <= 0:
        return []
    cutoff = now_ms - retention_ms
    return [m for m in metas if m.max_time < cutoff and not (keep is not None and keep(m))]
