"""Fleet state in Redis, shared by every instance: the clue cache's second level (``bot.fleet.clues``),
the CRM rate limit and event dedupe (``bot.fleet.limits``), over one connection (this module).

Keys, all under ``cluebot:v2:`` (bump ``v2`` when a key's layout changes, so old and new fleets never meet):

- ``clue:{id}``  string: ``at`` (wall-clock epoch seconds of the CRM read), a newline, ``Clue.to_json()``; at
  most ``max_value_bytes``, written so and read so (``GETRANGE``). It expires after TTL + stale grace, so it
  outlives its freshness; the clue cache judges freshness by comparing ``at`` with its TTL, and a clue of
  another schema version reads as a miss.
- ``nf:{id}``    "not found", valued with the wall-clock time it was learnt; expires after the negative TTL.
- ``lock:{id}``  cross-instance single-flight: ``SET NX PX`` with a random token, released by compare-and-delete.
- ``rate:crm``   the shared CRM token bucket (hash ``tokens``, ``at``), refilled on Redis's own clock.
- ``rate:{lookup|search}:{user}`` each person's lookup and search budgets, shared the same way.
- ``event:{id}`` Slack event ids already taken by some instance, kept for an hour.
- ``push:{key}`` CRM pushes already taken (``bot.cache.push``): ``SET NX``, kept for twice the push window.

Degradation: Redis makes the fleet cheaper, never less available. Every operation runs through a
``RedisGuard``. A failure (a Redis error, an OS error or a timeout; sockets time out after 0.25 s and the
client does not retry) counts in ``cluebot_redis_errors``, logs ``cache.redis.unavailable`` once per outage,
and the caller carries on as if Redis held nothing: the cache misses and asks the CRM, the rate limit and
event dedupe fall back to in-process state. After a failure Redis is left alone for ``retry_after`` seconds,
so a dead server costs one timeout per interval, not one per call; the first success logs
``cache.redis.recovered``. A command Redis refuses while up (an ACL, Lua disabled) is not an outage: that
operation alone degrades, with one ``cache.redis.refused`` warning. Needs Redis 5 or later (Lua with ``TIME``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from bot.errors import ConfigError
from bot.fleet.clues import MAX_VALUE_BYTES, RedisClueStore
from bot.fleet.guard import RedisGuard
from bot.fleet.limits import RedisEventDeduper, RedisKeyedBuckets, RedisTokenBucket, Spawn
from bot.runtime.metrics import Metrics

log = logging.getLogger(__name__)

SOCKET_TIMEOUT = 0.25  # connect and read: a dead Redis must not slow chat down
RETRY_AFTER = 2.0


class FleetRedis:
    """The Redis-backed parts of one instance, over one connection pool."""

    def __init__(self, redis: Redis, guard: RedisGuard, store: RedisClueStore, bucket: RedisTokenBucket,
                 deduper: RedisEventDeduper) -> None:
        self._redis = redis
        self._guard = guard
        self.store = store
        self.bucket = bucket
        self.deduper = deduper

    def person_buckets(self, name: str, rate: float, burst: float, monotonic: Callable[[], float],
                       spawn: Spawn) -> RedisKeyedBuckets:
        """Per-person buckets named ``name`` (``lookup``, ``search``) shared by every instance."""
        return RedisKeyedBuckets(self._redis, self._guard, name, rate, burst, monotonic, spawn)

    def push_replays(self, ttl: int, monotonic: Callable[[], float]) -> RedisEventDeduper:
        """CRM push keys taken by any instance, each for ``ttl`` seconds (a replay is processed once)."""
        return RedisEventDeduper(self._redis, self._guard, monotonic, ttl=ttl, kind="push")

    async def ping(self) -> bool:
        """Whether Redis answers (for ``/readyz``; the app works without it, degraded)."""
        return bool(await self._guard.run("ping", self._ping))

    async def aclose(self) -> None:
        await self._redis.aclose()

    async def _ping(self) -> bool:
        return bool(await self._redis.ping())


async def connect_fleet(url: str | None, metrics: Metrics, *, ttl: float, negative_ttl: float, stale_ttl: float,
                        lock_ttl: float, crm_rate: float, wall: Callable[[], float],
                        monotonic: Callable[[], float] = time.monotonic,
                        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                        retry_after: float = RETRY_AFTER, max_value_bytes: int = MAX_VALUE_BYTES) -> FleetRedis | None:
    """The fleet's Redis parts when ``url`` (``REDIS_URL``) is set, else None; an unreachable Redis only
    logs a warning. ``ttl``, ``negative_ttl`` and ``stale_ttl`` are the clue cache's; ``lock_ttl`` bounds
    one cross-instance fetch (use the cache's fetch deadline); ``crm_rate`` is the CRM's request rate;
    ``max_value_bytes`` bounds a stored clue (use the CRM's answer size limit).
    """
    if url is None:
        return None
    try:
        redis = Redis.from_url(url, socket_connect_timeout=SOCKET_TIMEOUT, socket_timeout=SOCKET_TIMEOUT,
                               retry=Retry(NoBackoff(), 0))  # the default retries with backoff for seconds
    except ValueError as exc:
        raise ConfigError([f"REDIS_URL is not a usable Redis URL: {exc}"]) from None
    where = without_credentials(url)
    guard = RedisGuard(metrics, monotonic, where=where, retry_after=retry_after)
    store = RedisClueStore(redis, guard, metrics, ttl=ttl, negative_ttl=negative_ttl, stale_ttl=stale_ttl,
                           lock_ttl=lock_ttl, wall=wall, monotonic=monotonic, sleep=sleep,
                           max_value_bytes=max_value_bytes)
    # The same burst as the in-process bucket.
    bucket = RedisTokenBucket(redis, guard, crm_rate, max(1.0, crm_rate), monotonic, metrics)
    fleet = FleetRedis(redis, guard, store, bucket, RedisEventDeduper(redis, guard, monotonic))
    if await fleet.ping():  # a failure was logged by the guard; the pool reconnects on later calls
        log.info("cache.redis.connected", extra={"redis": where})
    return fleet


def without_credentials(url: str) -> str:
    """``url`` without user and password, for logs and messages."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"
