"""Per-key and per-address request limits on the `limits` library (memory or shared Redis counters)."""

from __future__ import annotations

import math
import time
from typing import cast

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from openmanager.errors import ConfigError


def _item(text: str, key: str) -> RateLimitItem | None:
    if not text:
        return None
    try:
        return parse(text)
    except ValueError:
        raise ConfigError(f"security.{key}: {text!r} is not a rate like `100/second`") from None


class RateLimits:
    """Decides whether one more request from an address / with a key fits its limit."""

    def __init__(self, per_ip: str, per_key: str, storage_uri: str) -> None:
        self.per_ip = _item(per_ip, "rate_limit_per_ip")
        self.per_key = _item(per_key, "rate_limit_per_key")
        self.enabled = self.per_ip is not None or self.per_key is not None
        uri = storage_uri if storage_uri.startswith("async+") else "async+" + storage_uri
        try:
            # Redis through redis-py (already a dependency for the bus), not limits' default coredis.
            options = {"implementation": "redispy"} if "redis" in uri.split("://")[0] else {}
            self.storage = cast(Storage, storage_from_string(uri, **options))
        except Exception as exc:  # noqa: BLE001 - limits raises several types for bad URIs
            raise ConfigError(f"security.rate_limit_storage: {storage_uri!r}: {exc}") from None
        self.limiter = MovingWindowRateLimiter(self.storage)

    async def _hit(self, item: RateLimitItem | None, *ids: str) -> float | None:
        if item is None or await self.limiter.hit(item, *ids):
            return None
        stats = await self.limiter.get_window_stats(item, *ids)
        return max(1.0, math.ceil(stats.reset_time - time.time()))

    async def retry_after_ip(self, address: str) -> float | None:
        """None if this address may go on, else seconds until it may."""
        return await self._hit(self.per_ip, "ip", address)

    async def retry_after_key(self, key_id: int) -> float | None:
        """None if this key may go on, else seconds until it may."""
        return await self._hit(self.per_key, "key", str(key_id))
