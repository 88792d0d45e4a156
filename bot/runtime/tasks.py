"""The background task runner: work that continues after Slack has been acknowledged.

Holds strong references (asyncio keeps only weak ones), logs failures (the one place that catches
everything, since an exception in a task would otherwise vanish) and drains on shutdown. Tests call
``drain()`` instead of sleeping.

Work is isolated by kind, each in its own lane with its own concurrency and capacity: replies someone
is waiting for (a card, a notice) never queue behind link previews (a flood of posted links on a slow
Slack) or housekeeping such as locale lookups, and
a full lane refuses new work at once (``spawn`` returns False; counted by ``on_refused``) instead of
queueing without bound behind a slow Slack API.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

REPLY = "reply"  # someone waits for it: Refresh, Share, Reveal, the details pane, slow /clue answers
PREVIEW = "preview"  # link previews: anyone may post links, so a flood must not hold up the answers above
HOUSEKEEPING = "housekeeping"  # nobody waits: locale lookups (the default locale serves meanwhile)
PUSH = "push"  # CRM pushes, answered before their work: a flood waits here, never ahead of a reply


@dataclass(frozen=True, slots=True)
class Lane:
    """One kind of work: at most ``concurrency`` tasks running and ``capacity`` held (running or waiting)."""

    concurrency: int
    capacity: int


# Previews: chat.unfurl is bounded at 8 in flight anyway (bot.slack.webapi); 16 running keep its lookups
# going, and a flood beyond 500 waiting previews is dropped rather than queued behind a slow Slack.
LANES: Mapping[str, Lane] = {REPLY: Lane(concurrency=100, capacity=1000), PREVIEW: Lane(16, 500),
                             HOUSEKEEPING: Lane(4, 100), PUSH: Lane(4, 500)}


class TaskRunner:
    def __init__(self, lanes: Mapping[str, Lane] = LANES, on_refused: Callable[[str], None] | None = None,
                 logged: tuple[type[Exception], ...] = ()) -> None:
        """``logged``: errors already logged where they were raised; a task they end adds no line."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._lanes = dict(lanes)
        self._semaphores = {kind: asyncio.Semaphore(lane.concurrency) for kind, lane in lanes.items()}
        self._held = dict.fromkeys(lanes, 0)
        self._full: set[str] = set()  # lanes that refused since they last had room: one warning each
        self._on_refused = on_refused
        self._logged = logged

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, None], *, name: str, kind: str = REPLY) -> bool:
        """Run ``coro`` in ``kind``'s lane; False (and ``coro`` closed, never run) when the lane is full."""
        if self._held[kind] >= self._lanes[kind].capacity:
            coro.close()
            if self._on_refused is not None:
                self._on_refused(kind)
            if kind not in self._full:
                self._full.add(kind)
                log.warning("task.lane.full", extra={"kind": kind, "task": name,
                                                     "capacity": self._lanes[kind].capacity})
            return False
        self._held[kind] += 1
        task = asyncio.ensure_future(self._run(coro, name, kind))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda _: self._release(kind))  # also when cancelled before it started
        return True

    def _release(self, kind: str) -> None:
        self._held[kind] -= 1
        self._full.discard(kind)

    async def _run(self, coro: Coroutine[Any, Any, None], name: str, kind: str) -> None:
        try:
            async with self._semaphores[kind]:
                try:
                    await coro
                except asyncio.CancelledError:
                    raise
                except self._logged:
                    pass
                except Exception:
                    log.exception("task.failed", extra={"task": name})
        finally:
            coro.close()  # cancelled while waiting its turn: closed, never started (a no-op once it ran)

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
