"""The search cache: a short TTL per normalised query and page, single-flight, stale-if-error.

A search is heavier than a lookup and people repeat it (paging back, the type-ahead asking again as
someone types and deletes), so one answer serves everyone asking the same page for ``ttl`` seconds.
Concurrent identical searches share one CRM call (``SingleFlight``, as clue lookups do). When the CRM
fails, a page fetched within ``ttl + stale_ttl`` is served flagged as stale. The query text is never
logged: only its fingerprint (length and a short hash).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from cachetools import TTLCache

from bot.cache.flight import SingleFlight
from bot.crm.models import SearchPage
from bot.domain.search import SearchQuery
from bot.errors import CrmAuthError, CrmError, CrmUnavailable
from bot.runtime.metrics import Metrics

log = logging.getLogger(__name__)

SearchFetch = Callable[[str, int, int], Awaitable[SearchPage]]  # key, page number, page size


@dataclass(frozen=True, slots=True)
class SearchResult:
    """One page of a search: ``page_no`` counts from 1; ``fetched_at`` is wall-clock epoch seconds."""

    query: SearchQuery
    page_no: int
    page: SearchPage
    fetched_at: float
    stale: bool = False


@dataclass(frozen=True, slots=True)
class _Entry:
    result: SearchResult
    fetched_mono: float


class SearchCache:
    def __init__(self, fetch: SearchFetch, *, page_size: int, ttl: float, stale_ttl: float, maxsize: int,
                 deadline: float, clock: Callable[[], float], wall: Callable[[], float], metrics: Metrics) -> None:
        self._fetch = fetch
        self.page_size = page_size
        self._ttl = ttl
        self._deadline = deadline
        self._clock = clock
        self._wall = wall
        self._metrics = metrics
        self._entries: TTLCache[tuple[str, int], _Entry] = TTLCache(maxsize, max(ttl + stale_ttl, 1e-9), timer=clock)
        self._flights: SingleFlight[tuple[str, int], SearchResult] = SingleFlight()

    def cached(self, query: SearchQuery, page_no: int = 1) -> SearchResult | None:
        """A fresh page without any I/O, or None."""
        entry = self._entries.get((query.cache_key, page_no))
        if entry is None or self._clock() - entry.fetched_mono >= self._ttl:
            return None
        self._metrics.searches.inc("hit")
        return entry.result

    async def get(self, query: SearchQuery, page_no: int = 1) -> SearchResult:
        """The page, from cache when fresh; else one CRM search shared by everyone asking for it."""
        hit = self.cached(query, page_no)
        if hit is not None:
            return hit
        key = (query.cache_key, page_no)
        result, shared = await self._flights.run(key, lambda: self._load(query, page_no))
        self._metrics.searches.inc("coalesced" if shared else "miss")
        return result

    async def _load(self, query: SearchQuery, page_no: int) -> SearchResult:
        key = (query.cache_key, page_no)
        try:
            async with asyncio.timeout(self._deadline):
                page = await self._fetch(query.key, page_no, self.page_size)
        except TimeoutError:
            error: CrmError = CrmUnavailable(f"search exceeded its {self._deadline:g}s deadline")
            return self._stale_or_raise(key, query, error)
        except CrmAuthError:
            raise  # a misconfiguration must be seen, not hidden behind old results
        except CrmError as exc:
            return self._stale_or_raise(key, query, exc)
        result = SearchResult(query, page_no, page, self._wall())
        self._entries[key] = _Entry(result, self._clock())
        return result

    def _stale_or_raise(self, key: tuple[str, int], query: SearchQuery, error: CrmError) -> SearchResult:
        entry = self._entries.get(key)
        if entry is None:
            self._metrics.searches.inc("error")
            raise error
        self._metrics.searches.inc("stale_served")
        log.warning("clue.search.stale_served", extra={
            "query": query.fingerprint, "page": key[1], "error": type(error).__name__,
            "age_s": round(self._wall() - entry.result.fetched_at)})
        old = entry.result
        return SearchResult(old.query, old.page_no, old.page, old.fetched_at, stale=True)
