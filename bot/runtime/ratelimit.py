"""Token buckets: one arithmetic for the CRM's request rate and each person's lookup rate.

``TokenBucket`` is one bucket (the CRM guard's ``RateLimiter``); ``KeyedTokenBuckets`` is one bucket
per key (per person), on a plain dict because it runs on every ``/clue`` (a TTLCache costs 3x as
much). The Redis-backed bucket that several instances share is ``bot.fleet.limits.RedisTokenBucket``.
"""

from __future__ import annotations

from collections.abc import Callable

# A refill computed in floating point can fall short of a whole token by a rounding error; a wait that
# small would not move the clock, and the caller would wait for it forever.
_EPSILON = 1e-9


def refill(tokens: float, at: float, now: float, rate: float, burst: float) -> float:
    """Tokens held at ``now`` by a bucket that held ``tokens`` at ``at`` (a clock going back adds none)."""
    return min(burst, tokens + max(0.0, now - at) * rate)


class TokenBucket:
    """``rate`` tokens per second, ``burst`` capacity, on a monotonic clock."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float]) -> None:
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._tokens = burst
        self._at = clock()

    def take(self, count: float = 1, floor: float = 0.0) -> float:
        """Take ``count`` tokens if at least ``floor`` are left after: 0 when granted, else seconds until
        they would be (nothing taken)."""
        now = self._clock()
        self._tokens = refill(self._tokens, self._at, now, self._rate, self._burst)
        self._at = now
        if self._tokens - count >= floor - _EPSILON:
            self._tokens = max(0.0, self._tokens - count)
            return 0.0
        return (count + floor - self._tokens) / self._rate

    async def wait_time(self, floor: float = 0.0) -> float:
        """The CRM guard's ``RateLimiter`` interface: take one token, leaving ``floor``."""
        return self.take(1, floor)


class KeyedTokenBuckets:
    """One token bucket per key; buckets that have refilled are forgotten once there are ``max_keys``."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float], max_keys: int = 100_000) -> None:
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def take(self, key: str, count: float = 1) -> float:
        """Take ``count`` tokens from ``key``'s bucket: 0 when granted, else seconds until they would be."""
        now = self._clock()
        state = self._buckets.get(key)
        tokens = self._burst if state is None else refill(state[0], state[1], now, self._rate, self._burst)
        granted = tokens >= count
        self._buckets[key] = (tokens - count if granted else tokens, now)
        if len(self._buckets) > self._max_keys:
            self._forget_full(now)
        return 0.0 if granted else (count - tokens) / self._rate

    def _forget_full(self, now: float) -> None:
        """Drop buckets that have refilled: forgetting them changes nothing."""
        full_after = self._burst / self._rate
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < full_after}
