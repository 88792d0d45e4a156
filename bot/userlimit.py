"""Per-user rate limit for ``/clue``, so one person cannot drain the CRM quota."""

from __future__ import annotations

from collections.abc import Callable

from cachetools import TTLCache


class UserRateLimiter:
    """A token bucket per user: ``per_minute`` lookups, refilled continuously."""

    def __init__(self, per_minute: int, clock: Callable[[], float], max_users: int = 100_000) -> None:
        self._rate = per_minute / 60.0
        self._burst = float(per_minute)
        self._clock = clock
        # (tokens, at); an idle user's bucket is full again after a minute, so it can be forgotten.
        self._buckets: TTLCache[str, tuple[float, float]] = TTLCache(max_users, 120, timer=clock)

    def take(self, user_id: str | None, count: int = 1) -> float:
        """Take ``count`` tokens; 0 when granted, else seconds until they would be."""
        key = user_id or "?"
        now = self._clock()
        tokens, at = self._buckets.get(key, (self._burst, now))
        tokens = min(self._burst, tokens + (now - at) * self._rate)
        if tokens >= count:
            self._buckets[key] = (tokens - count, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (count - tokens) / self._rate
