"""Flap detection: an alert changing state more than N times in a window is held until it settles."""

from __future__ import annotations

from collections import deque


class FlapDetector:
    """Counts firing/resolved transitions per alert; flapping while the window holds > threshold."""

    def __init__(self, threshold: int, window_s: float) -> None:
        self.threshold = threshold
        self.window_s = window_s
        self._changes: dict[str, deque[float]] = {}
        self._held: set[str] = set()

    def record(self, fp: str, now: float) -> bool:
        """Note a state change; True if this alert is now flapping."""
        changes = self._changes.setdefault(fp, deque())
        changes.append(now)
        self._trim(changes, now)
        if self.threshold > 0 and len(changes) > self.threshold:
            self._held.add(fp)
        return fp in self._held

    def flapping(self, fp: str, now: float) -> bool:
        """Held: too many changes lately, or held and not yet quiet for a whole window."""
        if fp not in self._held:
            return False
        changes = self._changes.get(fp)
        if not changes or now - changes[-1] >= self.window_s:
            self._held.discard(fp)
            return False
        return True

    def changes(self, fp: str, now: float) -> int:
        """State changes of this alert within the window."""
        changes = self._changes.get(fp)
        if changes is None:
            return 0
        self._trim(changes, now)
        return len(changes)

    def held(self, now: float) -> list[str]:
        """Fingerprints flapping at `now`."""
        return [fp for fp in list(self._held) if self.flapping(fp, now)]

    def forget(self, fp: str, now: float) -> None:
        """Drop the history of an alert that has been quiet for a window."""
        changes = self._changes.get(fp)
        if changes is not None and (not changes or now - changes[-1] >= self.window_s):
            self._changes.pop(fp, None)
            self._held.discard(fp)

    def _trim(self, changes: deque[float], now: float) -> None:
        while changes and now - changes[0] > self.window_s:
            changes.popleft()
