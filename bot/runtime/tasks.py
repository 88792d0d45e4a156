"""The background task runner: work that continues after Slack has been acknowledged.

Holds strong references (asyncio keeps only weak ones), bounds concurrency, logs failures (the one
place that catches everything, since an exception in a task would otherwise vanish) and drains on
shutdown. Tests call ``drain()`` instead of sleeping.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class TaskRunner:
    def __init__(self, max_concurrency: int = 100) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self._semaphore = asyncio.Semaphore(max_concurrency)

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, None], *, name: str) -> None:
        task = asyncio.ensure_future(self._run(coro, name))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        async with self._semaphore:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("task.failed", extra={"task": name})

    async def drain(self, timeout: float | None = None) -> None:  # noqa: ASYNC109 - cancels what is left
        """Wait until no task is running (tasks may spawn tasks); cancel what is left after ``timeout``."""
        try:
            async with asyncio.timeout(timeout):
                while self._tasks:
                    await asyncio.gather(*list(self._tasks), return_exceptions=True)
        except TimeoutError:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
            log.warning("task.drain.cancelled")
