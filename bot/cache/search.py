"""The search cache: a short TTL per normalised query and page, single-flight, stale-if-error.

A search is heavier than a lookup and people repeat it (paging back, the type-ahead asking again as
someone types and deletes), so one answer serves everyone asking the same page for ``ttl`` seconds.
It is a ``TtlCache`` (the shared machinery: concurrent identical searches share one CRM call; when the
CRM fails, a page fetched within ``ttl + stale_ttl`` is served flagged as stale; auth errors surface).
The query text is never logged: only its fingerprint (length and a short hash).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.cache.flight import TtlCache
from bot.crm.models import SearchPage
from bot.domain.search import SearchQuery
from bot.errors import CrmError
from bot.runtime.metrics import Metrics

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
class _PageKey:
    """One page of one normalised query; the query itself rides along (the first asker's spelling is
    what the CRM is sent) but does not make a different key."""

    cache_key: str
    page_no: int
    query: SearchQuery = field(compare=False, hash=False)


class SearchCache:
    def __init__(self, fetch: SearchFetch, *, page_size: int, ttl: float, stale_ttl: float, maxsize: int,
                 deadline: float, clock: Callable[[], float], wall: Callable[[], float], metrics: Metrics) -> None:
        self._fetch = fetch
        self.page_size = page_size
        self._metrics = metrics
        self._pages: TtlCache[_PageKey, SearchPage] = TtlCache(
            self._read, name="clue.search", ttl=ttl, maxsize=maxsize, stale_ttl=max(stale_ttl, 1e-9),
            deadline=deadline, clock=clock, wall=wall, tally=metrics.searches)

    def _read(self, key: _PageKey) -> Awaitable[SearchPage]:
        return self._fetch(key.query.key, key.page_no, self.page_size)

    def cached(self, query: SearchQuery, page_no: int = 1) -> SearchResult | None:
        """A fresh page without any I/O, or None."""
        timed = self._pages.cached(_PageKey(query.cache_key, page_no, query))
        return None if timed is None else SearchResult(query, page_no, timed.value, timed.fetched_at)

    async def get(self, query: SearchQuery, page_no: int = 1) -> SearchResult:
        """The page, from cache when fresh; else one CRM search shared by everyone asking for it."""
        try:
            timed = await self._pages.get(_PageKey(query.cache_key, page_no, query))
        except CrmError:
            self._metrics.searches.inc("error")  # the caller logs it, with the query's fingerprint
            raise
        return SearchResult(query, page_no, timed.value, timed.fetched_at, stale=timed.stale)
