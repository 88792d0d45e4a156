"""Per-user rate limit for ``/clue``, so one person cannot drain the CRM quota."""

from __future__ import annotations

from collections.abc import Callable


class UserRateLimiter:
    """A token bucket per user: ``per_minute`` lookups, refilled continuously."""

    def __init__(self, per_minute: int, clock: Callable[[], float], max_users: int = 100_000) -> None:
        self._rate = per_minute / 60.0
        self._burst = float(per_minute)
        self._clock = clock
        self._max_users = max_users
        # user -> (tokens, at). A plain dict: this runs on every /clue, and a TTLCache costs 3x as much.
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, user_id: str | None, count: int = 1) -> float:
        """Take ``count`` tokens; 0 when granted, else seconds until they would be."""
        key = user_id or "?"
        now = self._clock()
        tokens, at = self._buckets.get(key, (self._burst, now))
        tokens = min(self._burst, tokens + (now - at) * self._rate)
        granted = tokens >= count
        self._buckets[key] = (tokens - count if granted else tokens, now)
        if len(self._buckets) > self._max_users:
            self._forget_full(now)
        return 0.0 if granted else (count - tokens) / self._rate

    def _forget_full(self, now: float) -> None:
        """Drop buckets that have refilled: forgetting them changes nothing."""
        refill = 60.0  # a minute refills any bucket completely
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < refill}
