"""Single-flight: concurrent requests for one key share one running task.

The task is shielded from each waiter, so one caller's cancellation does not fail the others; its
result or failure reaches every waiter; it leaves the table when it ends, so nothing is remembered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Hashable
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SingleFlight(Generic[K, V]):
    """The one task per key that every concurrent caller awaits."""

    __slots__ = ("_running",)

    def __init__(self) -> None:
        self._running: dict[K, asyncio.Task[V]] = {}

    def __contains__(self, key: K) -> bool:
        return key in self._running

    def running(self, key: K) -> asyncio.Task[V] | None:
        return self._running.get(key)

    def start(self, key: K, work: Callable[[], Coroutine[Any, Any, V]]) -> asyncio.Task[V]:
        """Start ``work()`` as the task for ``key`` (the caller checked that none is running)."""
        task = asyncio.ensure_future(work())
        self._running[key] = task
        task.add_done_callback(lambda _: self._running.pop(key, None))
        return task

    async def run(self, key: K, work: Callable[[], Coroutine[Any, Any, V]]) -> tuple[V, bool]:
        """The result of the task for ``key``, starting it when none runs; and whether it was shared."""
        task = self._running.get(key)
        shared = task is not None
        if task is None:
            task = self.start(key, work)
        return await asyncio.shield(task), shared
