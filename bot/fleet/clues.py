"""The clue cache's second level in Redis, with cross-instance single-flight (``SharedClueStore``)."""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
from collections.abc import Awaitable, Callable, Sequence

from redis.asyncio import Redis

from bot.domain.clue import Clue
from bot.errors import ClueNotFound
from bot.fleet.guard import RedisGuard, key
from bot.runtime.metrics import Metrics

log = logging.getLogger(__name__)
POLL_INTERVAL = 0.025
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
        return await self._guard.run("get", lambda: self._get(clue_id))

    async def put(self, clue_id: int, clue: Clue, fetched_at: float) -> None:
        if self._keep_ms >= 1:  # 0 would be an error; with no TTL there is nothing to share
            await self._guard.run("put", lambda: self._put(clue_id, clue, fetched_at))

    async def get_not_found(self, clue_id: int) -> bool:
        return bool(await self._guard.run("get_not_found", lambda: self._get_not_found(clue_id)))

    async def put_not_found(self, clue_id: int) -> None:
        if self._negative_ms >= 1:
            await self._guard.run("put_not_found", lambda: self._put_not_found(clue_id))

    async def fetch_once(self, clue_id: int, fetch: Callable[[], Awaitable[Clue]]) -> tuple[Clue, float]:
        """``fetch()`` on one instance at a time; the others wait for its result instead of calling the CRM."""
        started = self._wall()
        token = secrets.token_hex(16)
        lock = key("lock", clue_id)
        state = await self._guard.run("lock", lambda: self._lock_and_read(clue_id, lock, token))
        if state is None:  # Redis unavailable, or a forged lock: no coordination, just ask the CRM
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

    async def _get(self, clue_id: int) -> tuple[Clue, float] | None:
        return await self._checked(clue_id, await self._redis.hmget(key("clue", clue_id), "at", "clue"))

    async def _get_not_found(self, clue_id: int) -> bool:
        raw = await self._redis.get(key("nf", clue_id))
        if raw is None:
            return False
        at = self._when(raw)
        # Written with a TTL of the negative TTL: an older (or future, or unreadable) time was not ours.
        if at is not None and at >= self._wall() - self._negative_ms / 1000 - CLOCK_SKEW:
            return True
        await self._discard("nf", clue_id)
        return False

    async def _checked(self, clue_id: int, fields: Sequence[bytes | str | None] | None) -> tuple[Clue, float] | None:
        """The stored clue if it is exactly what ``_put`` writes; anything else is deleted, counted and read
        as a miss, so the caller asks the CRM. Redis is input: whoever can write to it must not be able to
        speak in cards (a forged ``<!channel>``), crash rendering (a number for a name, a time of 1e18) or
        pin a value (a future ``at`` would be fresh forever, Refresh included)."""
        if not fields or (fields[0] is None and fields[1] is None):
            return None
        at = self._when(fields[0])
        clue = Clue.from_json(fields[1]) if fields[1] is not None else None
        if at is not None and clue is not None and clue.id == clue_id:
            return clue, at
        await self._discard("clue", clue_id)
        return None

    def _when(self, raw: bytes | str | None) -> float | None:
        """A stored wall-clock time, or None unless it is a finite epoch no later than now."""
        at = _float(raw)
        return at if at is not None and 0 < at <= self._wall() + CLOCK_SKEW else None

    async def _discard(self, kind: str, clue_id: int) -> None:
        self._metrics.redis_invalid.inc(kind)
        log.warning("cache.redis.invalid", extra={"key": kind, "clue_id": clue_id})
        await self._redis.delete(key(kind, clue_id))

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

    async def _lock_and_read(self, clue_id: int, lock: str,
                             token: str) -> tuple[bool, tuple[Clue, float] | None] | None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(lock, token, nx=True, px=self._lock_ms)
            pipe.hmget(key("clue", clue_id), "at", "clue")
            pipe.pttl(lock)
            won, fields, lock_ms = await pipe.execute()
        if not won and not 0 <= lock_ms <= self._lock_ms:
            # A lock we never wrote (no expiry, or a longer one) would make every lookup wait it out.
            await self._discard("lock", clue_id)
            return None
        return bool(won), await self._checked(clue_id, fields)

    async def _peek(self, clue_id: int, lock: str) -> tuple[tuple[Clue, float] | None, float | None, bool]:
        # One transaction, so a holder's write-then-release is never seen half done (released, no value).
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hmget(key("clue", clue_id), "at", "clue")
            pipe.get(key("nf", clue_id))
            pipe.exists(lock)
            fields, not_found_at, locked = await pipe.execute()
        return await self._checked(clue_id, fields), self._when(not_found_at), bool(locked)

    async def _unlock(self, lock: str, token: str) -> None:
        # If this fails the lock simply expires; waiters then fetch for themselves.
        await self._guard.run("unlock", lambda: self._release_lock(keys=[lock], args=[token]))


def _float(raw: bytes | str | None) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
