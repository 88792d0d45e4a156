"""Limits shared by the fleet: the CRM token bucket and Slack event dedupe, each with an in-process
fallback while Redis is unavailable."""

from __future__ import annotations

import logging
from collections.abc import Callable

from redis.asyncio import Redis

from bot.fleet.guard import RedisGuard, key
from bot.runtime.dedupe import TtlDeduper
from bot.runtime.metrics import Metrics
from bot.runtime.ratelimit import TokenBucket

log = logging.getLogger(__name__)
EVENT_TTL_SECONDS = 3600  # Slack retries within minutes; an hour matches the in-process dedupe

# Token bucket on Redis's clock (instances' clocks differ). ARGV: tokens per second, capacity, floor (tokens
# that must be left after taking one: ``FairShare``'s reserve). Returns
# {wait, reset}: wait is 0 when a token was taken, else the seconds until one would be (nothing taken), as a
# string because Lua numbers reach the client truncated to integers; reset is 1 when the stored state was
# not one this script writes (another type, tokens outside [0, burst], a time in the future or unreadable)
# and was replaced by a full bucket: a forged "-1e12 tokens" must not refuse every CRM call. An idle bucket
# is full, so the key expires once it would have refilled.
_BUCKET_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local floor = tonumber(ARGV[3]) or 0
local t = redis.call("TIME")
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local reset = 0
local kind = redis.call("TYPE", KEYS[1])["ok"]
if kind ~= "hash" and kind ~= "none" then
  redis.call("DEL", KEYS[1])
  reset = 1
end
local state = redis.call("HMGET", KEYS[1], "tokens", "at")
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if state[1] or state[2] then
  -- x ~= x is NaN; the comparisons also refuse infinities
  if not tokens or not at or tokens ~= tokens or at ~= at or tokens < 0 or tokens > burst or at > now then
    tokens, at, reset = burst, now, 1
  end
else
  tokens, at = burst, now
end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens - 1 >= floor - 1e-9 then
  tokens = math.max(0, tokens - 1)
else
  wait = (1 + floor - tokens) / rate
end
redis.call("HSET", KEYS[1], "tokens", string.format("%.6f", tokens), "at", string.format("%.6f", now))
redis.call("PEXPIRE", KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {string.format("%.6f", wait), reset}
"""


class RedisTokenBucket:
    """``RateLimiter`` shared by every instance; an in-process ``TokenBucket`` while Redis is unavailable."""

    def __init__(self, redis: Redis, guard: RedisGuard, rate: float, burst: float,
                 monotonic: Callable[[], float], metrics: Metrics) -> None:
        self._guard = guard
        self._metrics = metrics
        self._rate = rate
        self._burst = burst
        self._take = redis.register_script(_BUCKET_SCRIPT)
        self._local = TokenBucket(rate, burst, monotonic)

    async def wait_time(self, floor: float = 0.0) -> float:
        wait = await self._guard.run("rate", lambda: self._take_shared(floor))
        return await self._local.wait_time(floor) if wait is None else wait

    async def _take_shared(self, floor: float) -> float:
        wait, reset = await self._take(keys=[key("rate", "crm")], args=[self._rate, self._burst, floor])
        if reset:
            self._metrics.redis_invalid.inc("rate")
            log.warning("cache.redis.invalid", extra={"key": "rate"})
        return float(wait)


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
