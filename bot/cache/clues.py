"""What the caches hold: a clue, a page of its follow-ups, a page of search results; each a ``Cache``
named and counted here, with the policy the composition root gives it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.cache.timed import Cache, CacheMetrics, Policy, SharedStore, Timed
from bot.domain.clue import Clue
from bot.domain.follow_ups import FollowUpPage
from bot.domain.owner import Owner
from bot.domain.search import PageRequest, SearchPage
from bot.runtime.metrics import Metrics

Lookup = Timed[Clue]
"""A clue with its freshness."""

ClueCache = Cache[int, Clue]
"""Clues by id: negative cache, revalidation, the Redis second level."""

FollowUpCache = Cache[tuple[int, str | None], FollowUpPage]
"""Follow-up pages by (clue id, cursor): failures remembered."""

SearchCache = Cache[PageRequest, SearchPage]
OwnerCache = Cache[int, Owner | None]
"""Whose lead each clue is, by clue id (None: the CRM's search has no row for it, remembered too)."""
"""Search result pages by normalised query and page number."""

Clock = Callable[[], float]


def clue_cache(fetch: Callable[[int], Awaitable[Clue]], policy: Policy, *, clock: Clock, wall: Clock,
               metrics: Metrics, shared: SharedStore[int, Clue] | None = None) -> ClueCache:
    """Counted in ``cluebot_cache``, each lookup's outcome in ``cluebot_lookups``."""
    return Cache(fetch, policy, name="clue", key_field="clue_id", clock=clock, wall=wall, shared=shared,
                 metrics=CacheMetrics(metrics.cache, outcomes=metrics.lookups, coalesced=metrics.coalesced))


def follow_up_cache(fetch: Callable[[tuple[int, str | None]], Awaitable[FollowUpPage]], policy: Policy, *,
                    clock: Clock, wall: Clock, metrics: Metrics) -> FollowUpCache:
    """Counted in ``cluebot_follow_up_cache``."""
    return Cache(fetch, policy, name="follow_ups", clock=clock, wall=wall,
                 metrics=CacheMetrics(metrics.follow_up_cache))


def owner_cache(fetch: Callable[[int], Awaitable[Owner | None]], policy: Policy, *, clock: Clock, wall: Clock,
                metrics: Metrics) -> OwnerCache:
    """Counted in ``cluebot_owner_cache``."""
    return Cache(fetch, policy, name="owners", clock=clock, wall=wall, metrics=CacheMetrics(metrics.owner_cache))


def search_cache(fetch: Callable[[PageRequest], Awaitable[SearchPage]], policy: Policy, *, clock: Clock,
                 wall: Clock, metrics: Metrics) -> SearchCache:
    """Counted in ``cluebot_searches``. No key field: the query text is never logged (the listener logs
    its fingerprint)."""
    return Cache(fetch, policy, name="clue.search", clock=clock, wall=wall, metrics=CacheMetrics(metrics.searches))
