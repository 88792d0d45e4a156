"""The clue cache's second level in Redis, with cross-instance single-flight (a ``SharedStore``).

Every value is bounded: a clue is written only up to ``max_value_bytes`` and read with ``GETRANGE``, so
whatever someone with access to Redis stores under our keys, at most that many bytes reach this process
(a longer value is deleted and read as a miss, with one log line). A waiter on another instance's lock
gives up after the lock's own bound on the monotonic clock, however slowly Redis answers meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
from collections.abc import Awaitable, Callable

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
MAX_VALUE_BYTES = 2_000_000  # a clue's JSON: about the CRM's answer it came from (CRM_MAX_RESPONSE_BYTES)
_MAX_TIME_BYTES = 32  # a stored time: repr() of an epoch float

# Compare-and-delete: release the lock only while it still holds our token (it may have expired and been
# taken by another instance meanwhile).
_RELEASE_LOCK = """
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0
"""

class RedisClueStore:
    """``SharedStore[int, Clue]`` on Redis, with cross-instance single-flight; see the module docstring."""

    def __init__(self, redis: Redis, guard: RedisGuard, metrics: Metrics, *, ttl: float, negative_ttl: float,
                 stale_ttl: float, lock_ttl: float, wall: Callable[[], float], monotonic: Callable[[], float],
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 poll_interval: float = POLL_INTERVAL, max_value_bytes: int = MAX_VALUE_BYTES) -> None:
        self._redis = redis
        self._guard = guard
        self._metrics = metrics
        self._keep_ms = round((ttl + stale_ttl) * 1000)
        self._negative_ms = round(negative_ttl * 1000)
        self._lock_ttl = lock_ttl
        self._lock_ms = max(1, round(lock_ttl * 1000))
        self._wall = wall
        self._monotonic = monotonic
        self._max_bytes = max_value_bytes
        self._sleep = sleep
        self._poll_interval = poll_interval
        self._release_lock = redis.register_script(_RELEASE_LOCK)

    async def get(self, clue_id: int) -> tuple[Clue, float] | None:
        return await self._guard.run("get", lambda: self._get(clue_id))

    async def put(self, clue_id: int, clue: Clue, fetched_at: float) -> None:
        if self._keep_ms < 1:  # 0 would be an error; with no TTL there is nothing to share
            return
        value = f"{fetched_at!r}\n{clue.to_json()}".encode()
        if len(value) > self._max_bytes:  # never shared, so a value this big is never a real one
            log.warning("cache.redis.too_big", extra={"clue_id": clue_id, "bytes": len(value),
                                                      "limit": self._max_bytes})
            return
        await self._guard.run("put", lambda: self._put(clue_id, value))

    async def get_not_found(self, clue_id: int) -> ClueNotFound | None:
        found = await self._guard.run("get_not_found", lambda: self._get_not_found(clue_id))
        return ClueNotFound(clue_id) if found else None

    async def put_not_found(self, clue_id: int) -> None:
        if self._negative_ms >= 1:
            await self._guard.run("put_not_found", lambda: self._put_not_found(clue_id))

    async def forget(self, clue_id: int) -> None:
        """Drop the shared clue (a push said it changed); its "not found" too (a push may announce a new one)."""
        await self._guard.run("forget", lambda: self._redis.delete(key("clue", clue_id), key("nf", clue_id)))

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
        # The lock's own bound, on the clock: a lock that looks valid (re-taken, or Redis answering slowly)
        # never holds a lookup longer than the holder itself could have.
        give_up_at = self._monotonic() + self._lock_ttl
        while self._monotonic() < give_up_at:
            await self._sleep(self._poll_interval)
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
        return await self._checked(clue_id, await self._redis.getrange(key("clue", clue_id), 0, self._max_bytes))

    async def _get_not_found(self, clue_id: int) -> bool:
        raw = await self._redis.getrange(key("nf", clue_id), 0, _MAX_TIME_BYTES)
        if not raw:
            return False
        at = self._when(raw)
        # Written with a TTL of the negative TTL: an older (or future, or unreadable) time was not ours.
        if at is not None and at >= self._wall() - self._negative_ms / 1000 - CLOCK_SKEW:
            return True
        await self._discard("nf", clue_id)
        return False

    async def _checked(self, clue_id: int, stored: bytes | str | None) -> tuple[Clue, float] | None:
        """The stored clue if it is exactly what ``_put`` writes; anything else is deleted, counted and read
        as a miss, so the caller asks the CRM. Redis is input: whoever can write to it must not be able to
        speak in cards (a forged ``<!channel>``), crash rendering (a number for a name, a time of 1e18),
        pin a value (a future ``at`` would be fresh forever, Refresh included) or fill memory (``stored``
        is at most one byte more than any value ``put`` writes)."""
        if not stored:
            return None
        if len(stored) > self._max_bytes:
            await self._discard("clue", clue_id, reason="too_big")
            return None
        at_text, _, text = (stored.encode() if isinstance(stored, str) else stored).partition(b"\n")
        at = self._when(at_text)
        clue = Clue.from_json(text) if at is not None else None
        if at is not None and clue is not None and clue.id == clue_id:
            return clue, at
        await self._discard("clue", clue_id)
        return None

    def _when(self, raw: bytes | str | None) -> float | None:
        """A stored wall-clock time, or None unless it is a finite epoch no later than now (and short)."""
        at = _float(raw) if raw is not None and len(raw) <= _MAX_TIME_BYTES else None
        return at if at is not None and 0 < at <= self._wall() + CLOCK_SKEW else None

    async def _discard(self, kind: str, clue_id: int, *, reason: str = "malformed") -> None:
        self._metrics.redis_invalid.inc(kind)
        log.warning("cache.redis.invalid", extra={"key": kind, "clue_id": clue_id, "reason": reason})
        await self._redis.delete(key(kind, clue_id))

    async def _put(self, clue_id: int, value: bytes) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(key("clue", clue_id), value, px=self._keep_ms)
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
            pipe.getrange(key("clue", clue_id), 0, self._max_bytes)
            pipe.pttl(lock)
            won, stored, lock_ms = await pipe.execute()
        if not won and not 0 <= lock_ms <= self._lock_ms:
            # A lock we never wrote (no expiry, or a longer one) would make every lookup wait it out.
            await self._discard("lock", clue_id)
            return None
        return bool(won), await self._checked(clue_id, stored)

    async def _peek(self, clue_id: int, lock: str) -> tuple[tuple[Clue, float] | None, float | None, bool]:
        # One transaction, so a holder's write-then-release is never seen half done (released, no value).
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.getrange(key("clue", clue_id), 0, self._max_bytes)
            pipe.getrange(key("nf", clue_id), 0, _MAX_TIME_BYTES)
            pipe.exists(lock)
            stored, not_found_at, locked = await pipe.execute()
        return await self._checked(clue_id, stored), self._when(not_found_at), bool(locked)

    async def _unlock(self, lock: str, token: str) -> None:
        # If this fails the lock simply expires; waiters then fetch for themselves.
        await self._guard.run("unlock", lambda: self._release_lock(keys=[lock], args=[token]))


def _float(raw: bytes | str) -> float | None:
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
