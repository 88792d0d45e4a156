"""Generic cache machinery shared by every CRM lookup cache.

- ``SingleFlight``: one in-flight task per key that every concurrent caller awaits (shielded, so one
  caller's cancellation does not fail the others; a failure reaches every waiter);
- ``with_deadline``: a CRM read bounded in time, a timeout reported as ``CrmUnavailable``;
- ``TtlCache``: TTL + max size + single-flight + stale-if-error for any keyed CRM read, and a failure
  remembered for a while (``ClueCache`` adds not-found caching, revalidation and a shared level on the
  same pieces).

State lives on the event loop; no thread locks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from cachetools import TTLCache

from bot.errors import CrmAuthError, CrmError, CrmUnavailable
from bot.runtime.metrics import Tally

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SingleFlight(Generic[K, V]):
    """At most one running task per key; later callers join it."""

    __slots__ = ("_tasks",)

    def __init__(self) -> None:
        self._tasks: dict[K, asyncio.Task[V]] = {}

    def __contains__(self, key: K) -> bool:
        return key in self._tasks

    def running(self, key: K) -> asyncio.Task[V] | None:
        return self._tasks.get(key)

    def start(self, key: K, work: Coroutine[Any, Any, V]) -> asyncio.Task[V]:
        """Run ``work`` as the one task for ``key`` (forgotten when it ends)."""
        task = asyncio.ensure_future(work)
        self._tasks[key] = task
        task.add_done_callback(lambda _: self._tasks.pop(key, None))
        return task

    @staticmethod
    async def join(task: asyncio.Task[V]) -> V:
        """``task``'s result, shielded: one caller giving up does not cancel it for the others.

        A caller that gives up leaves the outcome seen: a CRM error nobody waits for any more is not
        logged by asyncio as "never retrieved" (an ERROR with a traceback, for an expected failure);
        anything else, a bug, is logged once here."""
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            task.add_done_callback(_outcome_seen)
            raise


def _outcome_seen(task: asyncio.Task[Any]) -> None:
    error = None if task.cancelled() else task.exception()
    if error is not None and not isinstance(error, CrmError):
        log.error("cache.flight.failed", exc_info=error)


async def with_deadline(deadline: float, read: Awaitable[V], what: str) -> V:
    """``read``, or ``CrmUnavailable`` once ``deadline`` seconds have passed."""
    try:
        async with asyncio.timeout(deadline):
            return await read
    except TimeoutError:
        raise CrmUnavailable(f"{what} exceeded its {deadline:g}s deadline") from None


@dataclass(frozen=True, slots=True)
class Timed(Generic[V]):
    """A cached value with its freshness: ``fetched_at`` is the wall-clock epoch of the CRM read."""

    value: V
    fetched_at: float
    stale: bool = False  # served from the grace period because the CRM failed


@dataclass(slots=True)
class _Entry(Generic[V]):
    timed: Timed[V]
    fetched_mono: float


class TtlCache(Generic[K, V]):
    """A keyed CRM read through a TTL cache, single-flight, with stale-if-error (never on auth errors).

    A failed read with nothing stale to serve is remembered for ``failure_ttl`` seconds and raised again
    without a CRM call: an endpoint that fails for a tenant (or hangs until the deadline) costs one read
    per key per ``failure_ttl``, not one per view. Auth errors are never remembered: fixing the key is
    seen at once.
    """

    def __init__(self, fetch: Callable[[K], Awaitable[V]], *, name: str, ttl: float, maxsize: int,
                 stale_ttl: float, deadline: float, clock: Callable[[], float], wall: Callable[[], float],
                 tally: Tally, failure_ttl: float = 0.0) -> None:
        self._fetch = fetch
        self._name = name
        self._ttl = ttl
        self._deadline = deadline
        self._clock = clock
        self._wall = wall
        self._tally = tally
        self._entries: TTLCache[K, _Entry[V]] = TTLCache(maxsize, ttl + stale_ttl, timer=clock)
        self._failures: TTLCache[K, CrmError] | None = \
            TTLCache(maxsize, failure_ttl, timer=clock) if failure_ttl > 0 else None
        self._flight: SingleFlight[K, Timed[V]] = SingleFlight()

    def cached(self, key: K) -> Timed[V] | None:
        """A fresh entry without any I/O, or None."""
        try:
            entry = self._entries[key]
        except KeyError:
            return None
        if self._clock() - entry.fetched_mono >= self._ttl:
            return None
        self._tally.inc("hit")
        return entry.timed

    def failed(self, key: K) -> CrmError | None:
        """The failure of the last read of ``key`` while it is remembered, without any I/O."""
        return self._failures.get(key) if self._failures is not None else None

    async def get(self, key: K, *, refresh: bool = False) -> Timed[V]:
        """The value, from cache when fresh; else one shared CRM read. ``refresh``: read the CRM even
        when fresh or failed recently (joining a read already running)."""
        if not refresh:
            hit = self.cached(key)
            if hit is not None:
                return hit
            failure = self.failed(key)
            if failure is not None:
                self._tally.inc("failure_remembered")
                raise failure.with_traceback(None)  # not one traceback grown per re-raise
        task = self._flight.running(key)
        if task is None:
            self._tally.inc("miss")
            task = self._flight.start(key, self._load(key))
        else:
            self._tally.inc("coalesced")
        return await self._flight.join(task)

    async def _load(self, key: K) -> Timed[V]:
        try:
            value = await with_deadline(self._deadline, self._fetch(key), self._name)
        except CrmError as exc:
            entry = self._entries.get(key)
            if isinstance(exc, CrmAuthError):
                raise  # a misconfiguration must be seen, not hidden behind old data
            if entry is None:
                if self._failures is not None:
                    self._failures[key] = exc
                raise
            self._tally.inc("stale_served")
            log.warning(f"{self._name}.cache.stale_served", extra={
                "age_s": round(self._wall() - entry.timed.fetched_at), "error": str(exc)})
            return Timed(entry.timed.value, entry.timed.fetched_at, stale=True)
        timed = Timed(value, self._wall())
        self._entries[key] = _Entry(timed, self._clock())
        if self._failures is not None:
            self._failures.pop(key, None)
        return timed
