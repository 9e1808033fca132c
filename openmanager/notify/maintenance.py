"""Recurring maintenance windows: a cron schedule and a duration; matching alerts are muted."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from openmanager.errors import ConfigError
from openmanager.notify.matchers import Matcher, MatcherError, matches_all, parse_matchers


@dataclass(frozen=True)
class MaintenanceWindow:
    """`cron` (5 fields, e.g. `0 2 * * sun`) starts a window lasting `duration_s`."""

    name: str
    cron: str
    duration_s: float
    matchers: tuple[Matcher, ...]
    tz: ZoneInfo

    def active(self, now: float) -> bool:
        """Whether a window started within the last `duration_s` seconds."""
        local = datetime.fromtimestamp(now, UTC).astimezone(self.tz)
        since = (local - timedelta(seconds=self.duration_s)).replace(second=0, microsecond=0)
        start = next(CronSim(self.cron, since - timedelta(minutes=1)))
        return start <= local < start + timedelta(seconds=self.duration_s)

    def mutes(self, labels: Mapping[str, str], now: float) -> bool:
        """Whether this window mutes an alert with these labels now."""
        return matches_all(self.matchers, labels) and self.active(now)


def make_window(
    name: str, cron: str, duration_s: float, matchers: Sequence[str], timezone: str
) -> MaintenanceWindow:
    """A validated window (ConfigError names the window and what is wrong)."""
    try:
        tz = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"maintenance window {name!r}: unknown time zone {timezone!r}") from None
    try:
        CronSim(cron, datetime.now(UTC))
    except CronSimError as exc:
        raise ConfigError(f"maintenance window {name!r}: invalid cron {cron!r}: {exc}") from None
    try:
        parsed = tuple(m for text in matchers for m in parse_matchers(text))
    except MatcherError as exc:
        raise ConfigError(f"maintenance window {name!r}: {exc}") from None
    if duration_s <= 0:
        raise ConfigError(f"maintenance window {name!r}: duration must be positive")
    return MaintenanceWindow(name, cron, duration_s, parsed, tz)
