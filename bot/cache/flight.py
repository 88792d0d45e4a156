"""The cache's concurrency machinery (``bot.cache.timed.Cache`` is built on it).

- ``SingleFlight``: one in-flight task per key that every concurrent caller awaits (shielded, so one
  caller's cancellation does not fail the others; a failure reaches every waiter);
- ``with_deadline``: a CRM read bounded in time, a timeout reported as ``CrmUnavailable``.

State lives on the event loop; no thread locks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Coroutine, Hashable
from typing import Any, Generic, TypeVar

from bot.errors import CrmError, CrmUnavailable

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
