"""One module per feature: ``/clue`` (commands), card buttons (actions), link previews (unfurls).

Each feature is a class built from ``FeatureDeps`` whose bound methods are Bolt listeners (parameter
names are Bolt's injection names), registered in ``bot.slack.app``. The app runs with
``process_before_response=True``, so every listener returns quickly: answers that are ready go in the
ack itself; anything slower continues in the ``TaskRunner``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.cache.flight import Timed
from bot.domain.follow_ups import FollowUpPage
from bot.errors import BotError
from bot.runtime.tasks import TaskRunner
from bot.slack.gate import Gate, Pass
from bot.slack.links import LinkMatcher
from bot.slack.render import CardRenderer
from bot.slack.webapi import Respond as Respond
from bot.slack.webapi import SlackCalls

if TYPE_CHECKING:
    from bot.slack.features.alerts import AlertDeps

log = logging.getLogger(__name__)

Message = dict[str, Any]
Ack = Callable[..., Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class FeatureOptions:
    ack_budget: float  # how long /clue waits for the CRM before acking a placeholder
    max_ids: int
    default_locale: str  # cards others see speak the workspace default
    crm_tz: ZoneInfo  # zone of the CRM's zone-less times (search rows)
    follow_up_wait: float = 0.5  # how long a card waits for its latest follow-up before showing without it


@dataclass(frozen=True, slots=True)
class FeatureDeps:
    """What every feature is built from."""

    gate: Gate
    matcher: LinkMatcher
    runner: TaskRunner
    renderer: CardRenderer
    options: FeatureOptions
    calls: SlackCalls
    wall: Callable[[], float]
    alerts: AlertDeps | None = None  # /clue subscribe…: the alerts database (None: DATABASE_URL=off)


def start_follow_ups(admitted: Pass, clue_id: int, *,
                     refresh: bool = False) -> asyncio.Future[Timed[FollowUpPage]]:
    """The newest follow-ups, looked up alongside the clue (from the cache when fresh, unless ``refresh``)."""
    cached = None if refresh else admitted.cached_follow_ups(clue_id)
    if cached is None:
        return asyncio.ensure_future(admitted.follow_ups(clue_id, refresh=refresh))
    ready: asyncio.Future[Timed[FollowUpPage]] = asyncio.get_running_loop().create_future()
    ready.set_result(cached)  # no task (nor timer, below) for what the cache holds
    return ready


async def follow_ups_within(work: asyncio.Future[Timed[FollowUpPage]], clue_id: int,
                            wait: float) -> Timed[FollowUpPage] | None:
    """``work``'s answer if it comes within ``wait`` seconds, else None: a card never waits longer for its
    latest follow-up (the shared lookup goes on and fills the cache for the next view)."""
    if not work.done() and not (await asyncio.wait({work}, timeout=wait))[0]:
        work.cancel()
        log.info("clue.follow_ups.late", extra={"clue_id": clue_id})
        return None
    error = work.exception()
    if isinstance(error, BotError):
        log.warning("clue.follow_ups.failed", extra={"clue_id": clue_id, "error": type(error).__name__})
        return None
    return work.result()  # anything else is a bug: raised
