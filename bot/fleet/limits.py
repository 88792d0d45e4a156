"""Limits shared by the fleet: the CRM token bucket and Slack event dedupe, each with an in-process
fallback while Redis is unavailable."""

from __future__ import annotations

from collections.abc import Callable

from redis.asyncio import Redis

from bot.fleet.guard import RedisGuard, key
from bot.runtime.dedupe import TtlDeduper
from bot.runtime.ratelimit import TokenBucket

EVENT_TTL_SECONDS = 3600  # Slack retries within minutes; an hour matches the in-process dedupe

# Token bucket on Redis's clock (instances' clocks differ). ARGV: tokens per second, capacity. Returns 0
# when a token was taken, else the seconds until one would be (nothing taken), as a string because Lua
# numbers reach the client truncated to integers. An idle bucket is full, so the key expires once it
# would have refilled.
_BUCKET_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call("TIME")
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call("HMGET", KEYS[1], "tokens", "at")
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / rate
end
redis.call("HSET", KEYS[1], "tokens", string.format("%.6f", tokens), "at", string.format("%.6f", now))
redis.call("PEXPIRE", KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return string.format("%.6f", wait)
"""


class RedisTokenBucket:
    """``RateLimiter`` shared by every instance; an in-process ``TokenBucket`` while Redis is unavailable."""

    def __init__(self, redis: Redis, guard: RedisGuard, rate: float, burst: float,
                 monotonic: Callable[[], float]) -> None:
        self._guard = guard
        self._rate = rate
        self._burst = burst
        self._take = redis.register_script(_BUCKET_SCRIPT)
        self._local = TokenBucket(rate, burst, monotonic)

    async def wait_time(self) -> float:
        wait = await self._guard.run("rate", self._take_shared)
        return await self._local.wait_time() if wait is None else wait

    async def _take_shared(self) -> float:
        return float(await self._take(keys=[key("rate", "crm")], args=[self._rate, self._burst]))


class RedisEventDeduper:
    """Slack event ids already taken by any instance, so a retry delivered elsewhere is not handled twice."""

    def __init__(self, redis: Redis, guard: RedisGuard, monotonic: Callable[[], float],
                 ttl: int = EVENT_TTL_SECONDS) -> None:
        self._redis = redis
        self._guard = guard
        self._ttl = ttl
        # Answers retries to this instance without I/O, and all of them while Redis is unavailable.
        self._local = TtlDeduper(monotonic, ttl=ttl)

    async def seen(self, event_id: str) -> bool:
        """Whether the event was already taken (here or elsewhere); takes it if not."""
        if not self._local.take(event_id):
            return True
        taken = await self._guard.run("event", lambda: self._take(event_id))
        return taken is False

    async def _take(self, event_id: str) -> bool:
        return bool(await self._redis.set(key("event", event_id), 1, nx=True, ex=self._ttl))
