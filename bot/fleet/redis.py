"""Redis shared by several instances: the clue cache's second level, the CRM rate limit, event dedupe.

Keys, all under ``cluebot:v1:`` (bump ``v1`` when a key's layout changes, so old and new fleets never meet):

- ``clue:{id}``  hash: ``at``, wall-clock epoch seconds of the CRM read; ``clue``, ``Clue.to_json()``. It expires
  after TTL + stale grace, so it outlives its freshness; ``ClueCache`` judges freshness by comparing ``at``
  with its TTL, and a ``clue`` of another schema version reads as a miss.
- ``nf:{id}``    "not found", valued with the wall-clock time it was learnt; expires after the negative TTL.
- ``lock:{id}``  cross-instance single-flight: ``SET NX PX`` with a random token, released by compare-and-delete.
- ``rate:crm``   the shared CRM token bucket (hash ``tokens``, ``at``), refilled on Redis's own clock.
- ``event:{id}`` Slack event ids already taken by some instance, kept for an hour.

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
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar
from urllib.parse import urlsplit

from cachetools import TTLCache
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError, ResponseError

from bot.config import Settings
from bot.crm.guard import TokenBucket
from bot.domain.clue import Clue
from bot.errors import ClueNotFound, ConfigError
from bot.runtime.metrics import Metrics

T = TypeVar("T")
log = logging.getLogger(__name__)

PREFIX = "cluebot:v1:"
SOCKET_TIMEOUT = 0.25  # connect and read: a dead Redis must not slow chat down
RETRY_AFTER = 2.0
POLL_INTERVAL = 0.025
EVENT_TTL_SECONDS = 3600  # Slack retries within minutes; an hour matches the in-process dedupe
# Instances' wall clocks differ a little: a value fetched this long before a waiter started still counts
# as new to it, so a slightly slow clock on the fetching instance does not cause a second CRM call.
CLOCK_SKEW = 1.0

# Compare-and-delete: release the lock only while it still holds our token (it may have expired and been
# taken by another instance meanwhile).
_RELEASE_LOCK = """
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0
"""

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


def key(kind: str, name: object) -> str:
    """A namespaced key, e.g. ``key("clue", 8)`` is ``cluebot:v1:clue:8``."""
    return f"{PREFIX}{kind}:{name}"


class RedisGuard:
    """Runs Redis operations: a failure is counted, logged once per outage, and answered with None."""

    def __init__(self, metrics: Metrics, monotonic: Callable[[], float], *, where: str,
                 retry_after: float = RETRY_AFTER) -> None:
        self._metrics = metrics
        self._monotonic = monotonic
        self._where = where  # the URL without credentials, for logs
        self._retry_after = retry_after
        self._down_since: float | None = None
        self._retry_at = 0.0
        self._refused: set[str] = set()

    async def run(self, op: str, call: Callable[[], Awaitable[T]]) -> T | None:
        """``call()``'s result, or None when Redis failed now or recently."""
        now = self._monotonic()
        if self._down_since is not None and now < self._retry_at:
            return None
        try:
            result = await call()
        except ResponseError as exc:
            # Redis is up but refused this command (an ACL, Lua disabled, a server too old): not an
            # outage, so the other operations carry on; warn once per kind of operation.
            self._metrics.redis_errors.inc()
            if op not in self._refused:
                self._refused.add(op)
                log.warning("cache.redis.refused", extra={"redis": self._where, "op": op, "error": str(exc)})
            return None
        except (RedisError, OSError) as exc:  # OSError covers socket errors and TimeoutError
            self._metrics.redis_errors.inc()
            self._retry_at = self._monotonic() + self._retry_after
            if self._down_since is None:
                self._down_since = now
                log.warning("cache.redis.unavailable", extra={
                    "redis": self._where, "op": op, "error": f"{type(exc).__name__}: {exc}",
                    "retry_after_s": self._retry_after})
            return None
        if self._down_since is not None:
            log.info("cache.redis.recovered", extra={
                "redis": self._where, "down_s": round(self._monotonic() - self._down_since, 1)})
            self._down_since = None
        return result


class RedisClueStore:
    """``SharedClueStore`` on Redis, with cross-instance single-flight; see the module docstring."""

    def __init__(self, redis: Redis, guard: RedisGuard, metrics: Metrics, *, ttl: float, negative_ttl: float,
                 stale_ttl: float, lock_ttl: float, wall: Callable[[], float],
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 poll_interval: float = POLL_INTERVAL) -> None:
        self._redis = redis
        self._guard = guard
        self._metrics = metrics
        self._keep_ms = round((ttl + stale_ttl) * 1000)
        self._negative_ms = round(negative_ttl * 1000)
        self._lock_ttl = lock_ttl
        self._lock_ms = max(1, round(lock_ttl * 1000))
        self._wall = wall
        self._sleep = sleep
        self._poll_interval = poll_interval
        self._release_lock = redis.register_script(_RELEASE_LOCK)

    async def get(self, clue_id: int) -> tuple[Clue, float] | None:
        fields = await self._guard.run("get", lambda: self._redis.hmget(key("clue", clue_id), "at", "clue"))
        return _parse(fields)

    async def put(self, clue_id: int, clue: Clue, fetched_at: float) -> None:
        if self._keep_ms >= 1:  # 0 would be an error; with no TTL there is nothing to share
            await self._guard.run("put", lambda: self._put(clue_id, clue, fetched_at))

    async def get_not_found(self, clue_id: int) -> bool:
        return bool(await self._guard.run("get_not_found", lambda: self._redis.exists(key("nf", clue_id))))

    async def put_not_found(self, clue_id: int) -> None:
        if self._negative_ms >= 1:
            await self._guard.run("put_not_found", lambda: self._put_not_found(clue_id))

    async def fetch_once(self, clue_id: int, fetch: Callable[[], Awaitable[Clue]]) -> tuple[Clue, float]:
        """``fetch()`` on one instance at a time; the others wait for its result instead of calling the CRM."""
        started = self._wall()
        token = secrets.token_hex(16)
        lock = key("lock", clue_id)
        state = await self._guard.run("lock", lambda: self._lock_and_read(clue_id, lock, token))
        if state is None:  # Redis unavailable: no coordination, just ask the CRM
            return await self._fetch_and_put(clue_id, fetch)
        won, found = state
        # Another instance may have written between our caller's miss and the lock attempt.
        if found is not None and found[1] >= started - CLOCK_SKEW:
            if won:
                await self._unlock(lock, token)
            self._metrics.coalesced.inc()
            return found
        if won:
            try:
                return await self._fetch_and_put(clue_id, fetch)
            finally:  # after the write, so waiters see the value (or "not found") before the lock goes
                await self._unlock(lock, token)
        found = await self._wait_for_holder(clue_id, lock, started)
        if found is not None:
            self._metrics.coalesced.inc()
            return found
        # The holder failed, its lock expired, or Redis did: never wait longer, never fail for Redis.
        return await self._fetch_and_put(clue_id, fetch)

    async def _fetch_and_put(self, clue_id: int, fetch: Callable[[], Awaitable[Clue]]) -> tuple[Clue, float]:
        try:
            clue = await fetch()
        except ClueNotFound:
            await self.put_not_found(clue_id)
            raise
        fetched_at = self._wall()
        await self.put(clue_id, clue, fetched_at)
        return clue, fetched_at

    async def _wait_for_holder(self, clue_id: int, lock: str, started: float) -> tuple[Clue, float] | None:
        """The holder's result once written (raising ClueNotFound for "not found"); None if there will be none."""
        waited = 0.0
        while waited < self._lock_ttl:  # the lock's own expiry bounds this too; this bounds a re-taken lock
            await self._sleep(self._poll_interval)
            waited += self._poll_interval
            state = await self._guard.run("wait", lambda: self._peek(clue_id, lock))
            if state is None:
                return None
            found, not_found_at, locked = state
            if found is not None and found[1] >= started - CLOCK_SKEW:
                return found
            if not_found_at is not None and not_found_at >= started - CLOCK_SKEW:
                raise ClueNotFound(clue_id)
            if not locked:
                return None
        return None

    async def _put(self, clue_id: int, clue: Clue, fetched_at: float) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key("clue", clue_id), mapping={"at": repr(fetched_at), "clue": clue.to_json()})
            pipe.pexpire(key("clue", clue_id), self._keep_ms)
            pipe.delete(key("nf", clue_id))  # it exists after all (a refresh, or it was just created)
            await pipe.execute()

    async def _put_not_found(self, clue_id: int) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(key("nf", clue_id), repr(self._wall()), px=self._negative_ms)
            pipe.delete(key("clue", clue_id))  # deleted in the CRM: nothing left to serve, not even stale
            await pipe.execute()

    async def _lock_and_read(self, clue_id: int, lock: str, token: str) -> tuple[bool, tuple[Clue, float] | None]:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(lock, token, nx=True, px=self._lock_ms)
            pipe.hmget(key("clue", clue_id), "at", "clue")
            won, fields = await pipe.execute()
        return bool(won), _parse(fields)

    async def _peek(self, clue_id: int, lock: str) -> tuple[tuple[Clue, float] | None, float | None, bool]:
        # One transaction, so a holder's write-then-release is never seen half done (released, no value).
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hmget(key("clue", clue_id), "at", "clue")
            pipe.get(key("nf", clue_id))
            pipe.exists(lock)
            fields, not_found_at, locked = await pipe.execute()
        return _parse(fields), _float(not_found_at), bool(locked)

    async def _unlock(self, lock: str, token: str) -> None:
        # If this fails the lock simply expires; waiters then fetch for themselves.
        await self._guard.run("unlock", lambda: self._release_lock(keys=[lock], args=[token]))


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
        self._local: TTLCache[str, bool] = TTLCache(10_000, ttl, timer=monotonic)

    async def seen(self, event_id: str) -> bool:
        """Whether the event was already taken (here or elsewhere); takes it if not."""
        if event_id in self._local:
            return True
        self._local[event_id] = True
        taken = await self._guard.run("event", lambda: self._take(event_id))
        return taken is False

    async def _take(self, event_id: str) -> bool:
        return bool(await self._redis.set(key("event", event_id), 1, nx=True, ex=self._ttl))


class SharedRedis:
    """The Redis-backed parts of one instance, over one connection pool."""

    def __init__(self, redis: Redis, guard: RedisGuard, store: RedisClueStore, bucket: RedisTokenBucket,
                 deduper: RedisEventDeduper) -> None:
        self._redis = redis
        self._guard = guard
        self.store = store
        self.bucket = bucket
        self.deduper = deduper

    async def ping(self) -> bool:
        """Whether Redis answers (for ``/readyz``; the app works without it, degraded)."""
        return bool(await self._guard.run("ping", self._ping))

    async def aclose(self) -> None:
        await self._redis.aclose()

    async def _ping(self) -> bool:
        return bool(await self._redis.ping())


async def connect_shared(settings: Settings, metrics: Metrics, wall: Callable[[], float], *, lock_ttl: float,
                         monotonic: Callable[[], float] = time.monotonic,
                         sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                         retry_after: float = RETRY_AFTER) -> SharedRedis | None:
    """The shared parts when ``REDIS_URL`` is set, else None. An unreachable Redis only logs a warning.

    ``lock_ttl`` bounds one cross-instance fetch: use the cache's fetch deadline.
    """
    if settings.redis_url is None:
        return None
    url = settings.redis_url.reveal()
    try:
        redis = Redis.from_url(url, socket_connect_timeout=SOCKET_TIMEOUT, socket_timeout=SOCKET_TIMEOUT,
                               retry=Retry(NoBackoff(), 0))  # the default retries with backoff for seconds
    except ValueError as exc:
        raise ConfigError([f"REDIS_URL is not a usable Redis URL: {exc}"]) from None
    where = _without_credentials(url)
    guard = RedisGuard(metrics, monotonic, where=where, retry_after=retry_after)
    store = RedisClueStore(redis, guard, metrics, ttl=settings.clue_cache_ttl_seconds,
                           negative_ttl=settings.clue_negative_ttl_seconds, stale_ttl=settings.clue_stale_seconds,
                           lock_ttl=lock_ttl, wall=wall, sleep=sleep)
    rate = settings.crm_rate_per_second
    bucket = RedisTokenBucket(redis, guard, rate, max(1.0, rate), monotonic)  # same burst as the local bucket
    shared = SharedRedis(redis, guard, store, bucket, RedisEventDeduper(redis, guard, monotonic))
    if await shared.ping():  # a failure was logged by the guard; the pool reconnects on later calls
        log.info("cache.redis.connected", extra={"redis": where})
    return shared


def _parse(fields: Sequence[bytes | str | None] | None) -> tuple[Clue, float] | None:
    if not fields or fields[0] is None or fields[1] is None:
        return None
    at = _float(fields[0])
    clue = Clue.from_json(fields[1])
    return None if at is None or clue is None else (clue, at)


def _float(raw: bytes | str | None) -> float | None:
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        return None


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"
