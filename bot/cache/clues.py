"""The clue cache: the one place cache policy lives.

- TTL + max size (cachetools ``TTLCache`` on an injected monotonic clock);
- single-flight: concurrent lookups of one id share one CRM call, shielded so one caller's
  cancellation does not fail the others; a failure reaches every waiter and is not cached;
- negative cache: "not found" is remembered for a shorter TTL;
- stale-if-error: an expired entry is kept for a grace period and served, flagged, when the CRM fails;
- stale-while-revalidate: a just-expired entry is served while a background read replaces it; if that
  read fails, the entry is flagged stale, so the next views say the CRM is unreachable;
- an optional shared second level (``SharedClueStore``, Redis) for several instances.

State lives on the event loop; no thread locks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from cachetools import TTLCache

from bot.cache.flight import SingleFlight, with_deadline
from bot.domain.clue import Clue
from bot.errors import ClueNotFound, CrmAuthError, CrmError
from bot.runtime.metrics import Metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Lookup:
    """A clue with its freshness: ``fetched_at`` is wall-clock epoch seconds of the CRM read."""

    clue: Clue
    fetched_at: float
    stale: bool = False  # served from the grace period because the CRM failed


class SharedClueStore(Protocol):
    """A cache shared by several instances (Redis). Every method degrades to "nothing" on failure."""

    async def get(self, clue_id: int) -> tuple[Clue, float] | None:
        """The last clue any instance fetched, and when (wall clock), whatever its age."""

    async def get_not_found(self, clue_id: int) -> bool: ...

    async def fetch_once(self, clue_id: int, fetch: Callable[[], Awaitable[Clue]]) -> tuple[Clue, float]: ...


@dataclass(slots=True)
class _Entry:
    fresh: Lookup  # built once: a hit allocates nothing
    fetched_mono: float  # monotonic, for expiry (``fresh.fetched_at`` is the wall clock, for display)


class ClueCache:
    """Looks clues up through the cache; see the module docstring for the policy."""

    def __init__(
        self,
        fetch: Callable[[int], Awaitable[Clue]],
        *,
        ttl: float,
        maxsize: int,
        negative_ttl: float,
        stale_ttl: float,
        deadline: float,
        clock: Callable[[], float],
        wall: Callable[[], float],
        metrics: Metrics,
        revalidate: float = 0.0,
        shared: SharedClueStore | None = None,
    ) -> None:
        self._fetch = fetch
        self._ttl = ttl
        self._revalidate = revalidate
        self._stale_ttl = stale_ttl
        self._deadline = deadline
        self._clock = clock
        self._wall = wall
        self._metrics = metrics
        self._shared = shared
        # Entries live through TTL + grace; freshness is decided per read against ``ttl``.
        self._entries: TTLCache[int, _Entry] = TTLCache(maxsize, ttl + stale_ttl, timer=clock)
        self._not_found: TTLCache[int, bool] = TTLCache(maxsize, max(negative_ttl, 1e-9), timer=clock)
        self._in_flight: SingleFlight[int, Lookup] = SingleFlight()

    def __len__(self) -> int:
        return len(self._entries)

    def cached(self, clue_id: int) -> Lookup | None:
        """A fresh in-process entry, without any I/O (for the no-await fast path); counted as a hit."""
        hit = self._fresh(clue_id)
        if hit is not None:
            self._metrics.cache.inc("hit")
            self._metrics.lookups.inc("ok")
        return hit

    def peek(self, clue_id: int) -> Clue | None:
        """The clue held for this id, whatever its age, without I/O, counting or revalidating: for
        details that only decorate something else (a search result's name and phone)."""
        entry = self._entries.get(clue_id)
        return entry.fresh.clue if entry is not None else None

    def _fresh(self, clue_id: int) -> Lookup | None:
        """A young enough entry. Within ``revalidate`` after its TTL it is still served, at once, while a
        background fetch replaces it: a hot clue expiring never stalls everyone looking at it."""
        try:
            # Indexing, not ``.get``: cachetools' ``get`` costs 3.5x as much, and this runs on every hit.
            entry = self._entries[clue_id]
        except KeyError:
            return None
        age = self._clock() - entry.fetched_mono
        if age >= self._ttl + self._revalidate:
            return None
        if age >= self._ttl and clue_id not in self._in_flight:
            self._metrics.cache.inc("revalidate")
            self._start_load(clue_id, refresh=False).add_done_callback(self._settle_background)
        return entry.fresh

    async def get(self, clue_id: int, *, refresh: bool = False) -> Lookup:
        """The clue, from cache when fresh; ``refresh`` forces a CRM read (and updates the cache)."""
        outcome = "error"
        try:
            lookup = await self._get(clue_id, refresh=refresh)
            outcome = "stale" if lookup.stale else "ok"
            return lookup
        except CrmError as exc:
            outcome = type(exc).__name__
            raise
        finally:
            self._metrics.lookups.inc(outcome)

    async def _get(self, clue_id: int, *, refresh: bool) -> Lookup:
        if not refresh:
            hit = self._fresh(clue_id)
            if hit is not None:
                self._metrics.cache.inc("hit")
                return hit
            if clue_id in self._not_found:
                self._metrics.cache.inc("negative_hit")
                raise ClueNotFound(clue_id)
        task = self._in_flight.running(clue_id)
        if task is None:
            self._metrics.cache.inc("miss" if not refresh else "refresh")
            task = self._start_load(clue_id, refresh=refresh)
        else:
            self._metrics.coalesced.inc()
        return await self._in_flight.join(task)

    def _start_load(self, clue_id: int, *, refresh: bool) -> asyncio.Task[Lookup]:
        """The one CRM read for this id that every concurrent lookup shares (held in ``_in_flight``)."""
        return self._in_flight.start(clue_id, self._load(clue_id, refresh=refresh))

    def store(self, clue_id: int, clue: Clue, fetched_at: float) -> None:
        self._entries[clue_id] = _Entry(Lookup(clue, fetched_at), self._clock())
        self._not_found.pop(clue_id, None)

    async def _load(self, clue_id: int, *, refresh: bool) -> Lookup:
        try:
            if self._shared is None:
                clue, fetched_at = await self._fetch_fresh(clue_id)
            else:
                clue, fetched_at = await self._load_shared(self._shared, clue_id, refresh=refresh)
        except ClueNotFound:
            self._entries.pop(clue_id, None)
            self._not_found[clue_id] = True  # the shared store, if any, has recorded it already
            raise
        except CrmError as exc:
            if isinstance(exc, CrmAuthError):
                raise  # a misconfiguration must be seen, not hidden behind old data
            stale = await self._stale(clue_id)
            if stale is None:
                raise
            self._metrics.cache.inc("stale_served")
            log.warning("clue.cache.stale_served", extra={
                "clue_id": clue_id, "age_s": round(self._wall() - stale.fetched_at), "error": str(exc)})
            return stale
        self.store(clue_id, clue, fetched_at)
        return Lookup(clue, fetched_at)

    async def _stale(self, clue_id: int) -> Lookup | None:
        """The last good clue within the grace period: this instance's, else the shared store's."""
        entry = self._entries.get(clue_id)
        if entry is not None:
            return Lookup(entry.fresh.clue, entry.fresh.fetched_at, stale=True)
        if self._shared is None:
            return None
        found = await self._shared.get(clue_id)
        if found is None or self._wall() - found[1] >= self._ttl + self._stale_ttl:
            return None
        return Lookup(found[0], found[1], stale=True)

    async def _load_shared(self, shared: SharedClueStore, clue_id: int, *, refresh: bool) -> tuple[Clue, float]:
        if not refresh:
            if await shared.get_not_found(clue_id):
                raise ClueNotFound(clue_id)
            found = await shared.get(clue_id)
            if found is not None and self._wall() - found[1] < self._ttl:
                self._metrics.cache.inc("redis_hit")
                return found
        # The shared store runs ``fetch`` under a cross-instance lock, or reads what another
        # instance fetched meanwhile; it writes the result back itself.
        return await shared.fetch_once(clue_id, lambda: self._fetch_with_deadline(clue_id))

    async def _fetch_fresh(self, clue_id: int) -> tuple[Clue, float]:
        return await self._fetch_with_deadline(clue_id), self._wall()

    async def _fetch_with_deadline(self, clue_id: int) -> Clue:
        return await with_deadline(self._deadline, self._fetch(clue_id), "clue lookup")

    def _settle_background(self, task: asyncio.Task[Lookup]) -> None:
        """A background revalidation has no caller to raise to. A CRM failure that ``_load`` answered with
        the stale entry flags the cached entry stale, so the next views say so (until a read succeeds);
        anything else is a bug, logged here."""
        if task.cancelled():
            return
        error = task.exception()
        if error is None:
            lookup = task.result()
            entry = self._entries.get(lookup.clue.id)
            if lookup.stale and entry is not None and not entry.fresh.stale:
                entry.fresh = lookup
        elif not isinstance(error, CrmError):
            log.error("clue.cache.revalidate.failed", exc_info=error)

