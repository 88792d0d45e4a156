"""The people caches: the CRM's employee directory, and each person's own clues.

A person's clues are read at most once per ``ttl`` (a minute) however often Home opens or ``/clue mine``
pages, one read at a time (single-flight); while the CRM fails, the last answer is served flagged stale.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.cache.timed import Cache, CacheMetrics, Policy
from bot.domain.people import Employee, OwnedClues
from bot.runtime.metrics import Metrics, Tally

DirectoryCache = Cache[str, tuple[Employee, ...]]
"""Every employee, under one key (``DIRECTORY``)."""
OwnedCache = Cache[str, OwnedClues]
"""A person's clues by their CRM ``salesId``."""

DIRECTORY = "employees"
Clock = Callable[[], float]


def people_caches(employees: Callable[[], Awaitable[tuple[Employee, ...]]],
                  owned: Callable[[str], Awaitable[OwnedClues]], *, directory_policy: Policy, owned_policy: Policy,
                  clock: Clock, wall: Clock, metrics: Metrics) -> tuple[DirectoryCache, OwnedCache]:
    """Both caches, counted in ``cluebot_people_cache`` by ``result``."""
    tally = Tally("cluebot_people_cache", "Employee directory and own-clue cache results (hit, miss, coalesced, "
                  "stale_served, failure_remembered)", "result", metrics.registry)

    async def directory(_: str) -> tuple[Employee, ...]:
        return await employees()

    return (Cache(directory, directory_policy, name="people.directory", clock=clock, wall=wall,
                  metrics=CacheMetrics(tally)),
            Cache(owned, owned_policy, name="people.owned", key_field="sales_id", clock=clock, wall=wall,
                  metrics=CacheMetrics(tally)))
