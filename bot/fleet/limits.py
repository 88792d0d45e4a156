"""Limits shared by the fleet: the CRM token bucket, each person's lookup and search budgets, and Slack
event dedupe, each with an in-process fallback while Redis is unavailable."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from redis.asyncio import Redis

from bot.fleet.guard import RedisGuard, key
from bot.runtime.dedupe import TtlDeduper
from bot.runtime.metrics import Metrics
from bot.runtime.ratelimit import KeyedTokenBuckets, TokenBucket

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


# A person's bucket on Redis's clock, charged for what an instance already granted. ARGV: tokens per second,
# capacity, tokens spent. The balance may go into debt (down to -burst): each instance decides at once from
# its own bucket and charges the fleet's after, so the debt of what several instances granted together is
# paid back before the fleet grants more. Returns the seconds until the balance affords one more (0: it does
# now), as a string (Lua numbers reach the client truncated). State this script does not write is replaced by a
# full bucket, as for the CRM bucket.
_PERSON_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local spent = tonumber(ARGV[3])
local t = redis.call("TIME")
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
if redis.call("TYPE", KEYS[1])["ok"] ~= "hash" then
  redis.call("DEL", KEYS[1])
end
local state = redis.call("HMGET", KEYS[1], "tokens", "at")
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if not tokens or not at or tokens ~= tokens or at ~= at or tokens < -burst or tokens > burst or at > now then
  tokens, at = burst, now
end
tokens = math.max(-burst, math.min(burst, tokens + math.max(0, now - at) * rate) - spent)
redis.call("HSET", KEYS[1], "tokens", string.format("%.6f", tokens), "at", string.format("%.6f", now))
redis.call("PEXPIRE", KEYS[1], math.ceil(2 * burst / rate * 1000) + 1000)
if tokens >= 1 then
  return "0"
end
return string.format("%.6f", (1 - tokens) / rate)
"""

Spawn = Callable[[Coroutine[Any, Any, None]], object]
"""Runs a charge in the background (the task runner's housekeeping lane)."""


class RedisKeyedBuckets:
    """Per-person buckets (``KeyedTokenBuckets``' ``take``) shared by the fleet: the Gate decides at once, so
    each instance grants from its own bucket of the whole limit, then charges the person's bucket in Redis in
    the background; when the fleet's bucket cannot afford another, this instance refuses the person until it
    can. So a person gets the limit across every instance, plus what instances grant while a charge is in
    flight: one per other instance when charges land within milliseconds, more when a host is so loaded that
    they take longer; while Redis is unavailable, each instance's own bucket is the limit."""

    def __init__(self, redis: Redis, guard: RedisGuard, name: str, rate: float, burst: float,
                 monotonic: Callable[[], float], spawn: Spawn) -> None:
        script = redis.register_script(_PERSON_SCRIPT)

        async def charge_fleet(person: str, count: float) -> Any:
            return await script(keys=[limit_key(name, person)], args=[rate, burst, count])

        self._charge_fleet = charge_fleet
        self._local = KeyedTokenBuckets(rate, burst, monotonic)  # the whole limit: the fleet's, decided here
        self._owed_until: dict[str, float] = {}  # person -> when the fleet's bucket affords one more
        self._guard, self._name, self._monotonic, self._spawn = guard, name, monotonic, spawn

    def take(self, key: str, count: float = 1) -> float:
        now = self._monotonic()
        owed = self._owed_until.get(key)
        if owed is not None:
            if owed > now:
                return owed - now
            del self._owed_until[key]
        wait = self._local.take(key, count)
        if wait == 0 and count > 0:
            self._spawn(self._charge(key, count))
        return wait

    async def _charge(self, key: str, count: float) -> None:
        wait = await self._guard.run(self._name, lambda: self._charge_fleet(key, count))
        if wait is not None and float(wait) > 0:
            if len(self._owed_until) >= _MAX_OWING:
                self._owed_until.clear()  # at worst, a few people get one more grant each
            self._owed_until[key] = self._monotonic() + float(wait)


_MAX_OWING = 100_000


def limit_key(name: str, person: str) -> str:
    return key("rate", f"{name}:{person}")


class RedisEventDeduper:
    """Slack event ids (or, with ``kind="push"``, CRM push keys) already taken by any instance, so a retry
    delivered elsewhere is not handled twice. Redis answers only whether ``SET NX`` took the key: nothing
    stored there is read back."""

    def __init__(self, redis: Redis, guard: RedisGuard, monotonic: Callable[[], float],
                 ttl: int = EVENT_TTL_SECONDS, kind: str = "event") -> None:
        self._redis = redis
        self._guard = guard
        self._ttl = ttl
        self._kind = kind
        # Answers retries to this instance without I/O, and all of them while Redis is unavailable.
        self._local = TtlDeduper(monotonic, ttl=ttl)

    async def seen(self, event_id: str) -> bool:
        """Whether the event was already taken (here or elsewhere); takes it if not."""
        if not self._local.take(event_id):
            return True
        taken = await self._guard.run(self._kind, lambda: self._take(event_id))
        return taken is False

    async def _take(self, event_id: str) -> bool:
        return bool(await self._redis.set(key(self._kind, event_id), 1, nx=True, ex=self._ttl))
