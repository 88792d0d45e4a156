"""Remembering what was already handled: keys taken once within a time window, in process."""

from __future__ import annotations

from collections.abc import Callable

from cachetools import TTLCache


class TtlDeduper:
    """Keys taken in the last ``ttl`` seconds (at most ``maxsize``; the oldest are forgotten first).

    Slack event ids use it directly in one instance; ``bot.fleet.limits.RedisEventDeduper`` puts it in
    front of Redis, so retries reaching the same instance cost no I/O.
    """

    def __init__(self, monotonic: Callable[[], float], *, ttl: float = 3600.0, maxsize: int = 10_000) -> None:
        self._taken: TTLCache[str, bool] = TTLCache(maxsize, ttl, timer=monotonic)

    def take(self, key: str) -> bool:
        """True the first time ``key`` is seen within the window (and takes it); False after that."""
        if key in self._taken:
            return False
        self._taken[key] = True
        return True

    async def seen(self, event_id: str) -> bool:
        """The event-deduper interface: whether the event was already taken; takes it if not."""
        return not self.take(event_id)
