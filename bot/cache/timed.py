"""The one cache of CRM reads: clues, follow-ups and searches, each a ``Cache`` with its own ``Policy``.

- TTL + max size (cachetools ``TTLCache`` on an injected monotonic clock);
- single-flight: concurrent reads of one key share one CRM call, shielded so one caller's cancellation
  does not fail the others; a failure reaches every waiter;
- negative cache: "not found" (``ClueNotFound``) is remembered for ``negative_ttl`` and drops the entry;
- stale-if-error: an expired entry is kept for ``stale_ttl`` and served, flagged, when the CRM fails
  (never for auth errors: a misconfiguration must be seen);
- failure memory: a failed read with nothing stale to serve is remembered for ``failure_ttl`` and raised
  again without a CRM call, so an endpoint failing for a tenant costs one read per key per interval;
- stale-while-revalidate: within ``revalidate`` after the TTL an entry is still served while a background
  read replaces it; if that read fails, the entry is flagged stale, so the next views say so;
- an optional shared second level (``SharedStore``, Redis) for several instances.

Every read returns a ``Timed`` value. State lives on the event loop; no thread locks.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from cachetools import TTLCache
from prometheus_client import Counter

from bot.cache.flight import SingleFlight, with_deadline
from bot.errors import ClueNotFound, CrmAuthError, CrmError
from bot.runtime.metrics import Tally

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
K_contra = TypeVar("K_contra", bound=Hashable, contravariant=True)
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Timed(Generic[V]):
    """A value with its freshness: ``fetched_at`` is the wall-clock epoch of the CRM read."""

    value: V
    fetched_at: float
    stale: bool = False  # served from the grace period because the CRM failed


@dataclass(frozen=True, slots=True)
class Policy:
    """How long what is kept and served; every duration in seconds, 0 turns that behaviour off."""

    ttl: float
    maxsize: int
    deadline: float  # one CRM read, including another instance's that is awaited
    stale_ttl: float = 0.0
    negative_ttl: float = 0.0
    failure_ttl: float = 0.0
    revalidate: float = 0.0


@dataclass(frozen=True, slots=True)
class CacheMetrics:
    """Where a cache counts: ``results`` (hit, miss, refresh, negative_hit, failure_remembered, revalidate,
    redis_hit, stale_served, and ``coalesced`` unless it has a counter of its own); ``outcomes``, when
    given, each read's outcome (ok, stale or the error's class), else a failed read is the result ``error``."""

    results: Tally
    outcomes: Tally | None = None
    coalesced: Counter | None = None


class SharedStore(Protocol[K_contra, V]):
    """A cache shared by several instances (Redis). Every method degrades to "nothing" on failure."""

    async def get(self, key: K_contra) -> tuple[V, float] | None:
        """The last value any instance fetched, and when (wall clock), whatever its age."""

    async def get_not_found(self, key: K_contra) -> CrmError | None:
        """The "not found" some instance learnt lately, to raise; None when there is none."""

    async def fetch_once(self, key: K_contra, fetch: Callable[[], Awaitable[V]]) -> tuple[V, float]:
        """``fetch()`` on one instance at a time (or what another fetched meanwhile); written back."""

    async def forget(self, key: K_contra) -> None:
        """Drop the shared value: the CRM said it changed (a push)."""


@dataclass(slots=True)
class _Entry(Generic[V]):
    timed: Timed[V]  # built once: a hit allocates nothing
    fetched_mono: float  # monotonic, for expiry (``timed.fetched_at`` is the wall clock, for display)


class Cache(Generic[K, V]):
    """Reads ``fetch(key)`` through the cache; see the module docstring for the policy.

    ``name`` prefixes log events (``clue.cache.stale_served``); ``key_field`` names the log field that
    carries the key, None when the key must never be logged (a search's text)."""

    def __init__(self, fetch: Callable[[K], Awaitable[V]], policy: Policy, *, name: str,
                 clock: Callable[[], float], wall: Callable[[], float], metrics: CacheMetrics,
                 key_field: str | None = None, shared: SharedStore[K, V] | None = None) -> None:
        self._fetch = fetch
        self._policy = policy
        self._name = name
        self._key_field = key_field
        self._clock = clock
        self._wall = wall
        self._metrics = metrics
        self._shared = shared
        # Entries live through TTL + grace; freshness is decided per read against ``ttl``.
        self._entries: TTLCache[K, _Entry[V]] = TTLCache(policy.maxsize, policy.ttl + policy.stale_ttl,
                                                          timer=clock)
        self._not_found: TTLCache[K, CrmError] | None = _memory(policy.maxsize, policy.negative_ttl, clock)
        self._failures: TTLCache[K, CrmError] | None = _memory(policy.maxsize, policy.failure_ttl, clock)
        self._flight: SingleFlight[K, Timed[V]] = SingleFlight()

    def __len__(self) -> int:
        return len(self._entries)

    def cached(self, key: K) -> Timed[V] | None:
        """A fresh in-process entry, without any I/O (for the no-await fast path); counted as a hit."""
        hit = self._fresh(key)
        if hit is not None:
            metrics = self._metrics
            metrics.results.inc("hit")
            if metrics.outcomes is not None:
                metrics.outcomes.inc("ok")
        return hit

    def peek(self, key: K) -> V | None:
        """The value held for ``key``, whatever its age, without I/O, counting or revalidating: for
        details that only decorate something else (a search result's name and phone)."""
        entry = self._entries.get(key)
        return entry.timed.value if entry is not None else None

    def failed(self, key: K) -> CrmError | None:
        """The failure of the last read of ``key`` while it is remembered, without any I/O."""
        return self._failures.get(key) if self._failures is not None else None

    async def invalidate(self, key: K) -> None:
        """The CRM said ``key`` changed (a push): the next read asks it (here and, through the shared store,
        on every instance whose own entry has expired). The old value stays as the stale fallback."""
        self.invalidate_where(lambda held: held == key)
        if self._shared is not None:
            await self._shared.forget(key)

    def invalidate_where(self, matches: Callable[[K], bool]) -> None:
        """``invalidate`` for every key held in process that ``matches`` (a clue's follow-up pages)."""
        for key in [key for key in self._entries if matches(key)]:
            entry = self._entries.get(key)
            if entry is not None:
                entry.fetched_mono = -math.inf  # expired, yet within the stale grace: served if the CRM fails
        for memory in (self._not_found, self._failures):
            if memory is not None:
                for key in [key for key in memory if matches(key)]:
                    memory.pop(key, None)

    async def get(self, key: K, *, refresh: bool = False) -> Timed[V]:
        """The value, from cache when fresh; else one shared CRM read. ``refresh``: read the CRM even when
        fresh, not found or failed recently (joining a read already running)."""
        outcomes = self._metrics.outcomes
        outcome = "error"
        try:
            timed = await self._get(key, refresh=refresh)
            outcome = "stale" if timed.stale else "ok"
            return timed
        except CrmError as exc:
            outcome = type(exc).__name__
            if outcomes is None:
                self._metrics.results.inc("error")
            raise
        finally:
            if outcomes is not None:
                outcomes.inc(outcome)

    def _fresh(self, key: K) -> Timed[V] | None:
        """A young enough entry. Within ``revalidate`` after its TTL it is still served, at once, while a
        background read replaces it: a hot key expiring never stalls everyone looking at it."""
        try:
            # Indexing, not ``.get``: cachetools' ``get`` costs 3.5x as much, and this runs on every hit.
            entry = self._entries[key]
        except KeyError:
            return None
        age = self._clock() - entry.fetched_mono
        if age >= self._policy.ttl + self._policy.revalidate:
            return None
        if age >= self._policy.ttl and key not in self._flight:
            self._metrics.results.inc("revalidate")
            self._start_load(key, refresh=False).add_done_callback(lambda task: self._settle_background(key, task))
        return entry.timed

    async def _get(self, key: K, *, refresh: bool) -> Timed[V]:
        if not refresh:
            hit = self._fresh(key)
            if hit is not None:
                self._metrics.results.inc("hit")
                return hit
            remembered = self._remembered(key)
            if remembered is not None:
                raise remembered.with_traceback(None)  # not one traceback grown per re-raise
        task = self._flight.running(key)
        if task is None:
            self._metrics.results.inc("refresh" if refresh else "miss")
            task = self._start_load(key, refresh=refresh)
        elif self._metrics.coalesced is not None:
            self._metrics.coalesced.inc()
        else:
            self._metrics.results.inc("coalesced")
        return await self._flight.join(task)

    def _remembered(self, key: K) -> CrmError | None:
        """A "not found" or a failure learnt lately, counted."""
        if self._not_found is not None and (not_found := self._not_found.get(key)) is not None:
            self._metrics.results.inc("negative_hit")
            return not_found
        if (failure := self.failed(key)) is not None:
            self._metrics.results.inc("failure_remembered")
            return failure
        return None

    def _start_load(self, key: K, *, refresh: bool) -> asyncio.Task[Timed[V]]:
        """The one CRM read for this key that every concurrent lookup shares."""
        return self._flight.start(key, self._load(key, refresh=refresh))

    async def _load(self, key: K, *, refresh: bool) -> Timed[V]:
        try:
            if self._shared is None:
                value, fetched_at = await self._fetch_with_deadline(key), self._wall()
            else:
                value, fetched_at = await self._load_shared(self._shared, key, refresh=refresh)
        except ClueNotFound as exc:
            self._entries.pop(key, None)  # deleted in the CRM: nothing left to serve, not even stale
            if self._not_found is not None:
                self._not_found[key] = exc  # the shared store, if any, has recorded it already
            raise
        except CrmError as exc:
            if isinstance(exc, CrmAuthError):
                raise  # a misconfiguration must be seen, not hidden behind old data
            stale = await self._stale(key)
            if stale is None:
                if self._failures is not None:
                    self._failures[key] = exc
                raise
            self._metrics.results.inc("stale_served")
            where = {self._key_field: key} if self._key_field else {}
            log.warning(f"{self._name}.cache.stale_served", extra={
                **where, "age_s": round(self._wall() - stale.fetched_at), "error": str(exc)})
            return stale
        timed = Timed(value, fetched_at)
        self._entries[key] = _Entry(timed, self._clock())
        if self._not_found is not None:
            self._not_found.pop(key, None)
        if self._failures is not None:
            self._failures.pop(key, None)
        return timed

    async def _stale(self, key: K) -> Timed[V] | None:
        """The last good value within the grace period: this instance's, else the shared store's."""
        entry = self._entries.get(key)
        if entry is not None:
            return Timed(entry.timed.value, entry.timed.fetched_at, stale=True)
        if self._shared is None:
            return None
        found = await self._shared.get(key)
        if found is None or self._wall() - found[1] >= self._policy.ttl + self._policy.stale_ttl:
            return None
        return Timed(found[0], found[1], stale=True)

    async def _load_shared(self, shared: SharedStore[K, V], key: K, *, refresh: bool) -> tuple[V, float]:
        if not refresh:
            not_found = await shared.get_not_found(key)
            if not_found is not None:
                raise not_found
            found = await shared.get(key)
            if found is not None and self._wall() - found[1] < self._policy.ttl:
                self._metrics.results.inc("redis_hit")
                return found
        # The shared store runs ``fetch`` under a cross-instance lock, or reads what another
        # instance fetched meanwhile; it writes the result back itself.
        return await shared.fetch_once(key, lambda: self._fetch_with_deadline(key))

    async def _fetch_with_deadline(self, key: K) -> V:
        return await with_deadline(self._policy.deadline, self._fetch(key), f"{self._name} lookup")

    def _settle_background(self, key: K, task: asyncio.Task[Timed[V]]) -> None:
        """A background revalidation has no caller to raise to. A CRM failure that ``_load`` answered with
        the stale entry flags the cached entry stale, so the next views say so (until a read succeeds);
        anything else is a bug, logged here."""
        if task.cancelled():
            return
        error = task.exception()
        if error is None:
            timed = task.result()
            entry = self._entries.get(key)
            if timed.stale and entry is not None and not entry.timed.stale:
                entry.timed = timed
        elif not isinstance(error, CrmError):
            log.error(f"{self._name}.cache.revalidate.failed", exc_info=error)


def _memory(maxsize: int, ttl: float, clock: Callable[[], float]) -> TTLCache[K, CrmError] | None:
    """Errors remembered per key for ``ttl`` seconds; None when ``ttl`` is 0 (nothing remembered)."""
    return TTLCache(maxsize, ttl, timer=clock) if ttl > 0 else None
