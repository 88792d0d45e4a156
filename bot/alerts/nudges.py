"""The morning nudge: a direct message at the time each person chose, in their Slack time zone, naming their
overdue and due-today clues and the clues new to them since the last nudge.

Every instance runs the loop; the holder of the ``people_nudges`` lease sends. A person's nudge of a day is
claimed with a row (``nudges``: person, their local date) written before posting, so it goes out at most once per
day across a fleet and across restarts. Nothing due and nothing new: skipped (recorded ``empty``). Found more
than ``window`` after the chosen time (the app was down at 09:00): dropped, never sent in the night. A CRM that
fails gives the claim back, and a later round (still within the window) tries again. The CRM publishes no time
of assignment: "new to you" is a clue of yours created since the last nudge (since the link, the first time).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts.assigned import AssignedRound, AssignedToYou
from bot.alerts.cards import UrlFor
from bot.alerts.service import instance_name
from bot.domain.owner import Owner
from bot.errors import CrmError, SlackCallFailed, StoreError
from bot.slack import people_cards
from bot.slack.people import People, zone
from bot.store.lease import Lease
from bot.store.people import NUDGE_DROPPED, NUDGE_EMPTY, NUDGE_POSTED, Assignments, PersonLink

log = logging.getLogger(__name__)

NUDGE_LEASE = "people_nudges"
NUDGE_INTERVAL_SECONDS = 60.0  # how often the lease holder looks for nudges due (or every alert poll, if longer)
NUDGE_CONCURRENCY = 4  # people nudged at once: few, so their CRM reads queue briefly for the shared rate limit


@dataclass
class NudgeRound:
    leader: bool = True
    posted: list[str] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    assigned: AssignedRound | None = None  # the "assigned to you" messages of the same round


class NudgeService:
    def __init__(self, people: People, client: AsyncWebClient, lease: Lease, *, window: timedelta,
                 locale_of: Callable[[str], str], wall: Callable[[], float],
                 interval: float = NUDGE_INTERVAL_SECONDS, assigned: AssignedToYou | None = None) -> None:
        self._people = people
        self._client = client
        self._lease = lease
        self._window = window
        self._locale_of = locale_of
        self._wall = wall
        self._interval = interval
        self.assigned = assigned
        self._one_round = asyncio.Lock()

    async def run_round(self) -> NudgeRound:
        """Send every nudge that is due now, then the "assigned to you" messages (the lease holder only)."""
        async with self._one_round:
            if not await self._lease.acquire():
                return NudgeRound(leader=False)
            done = NudgeRound()
            now = datetime.fromtimestamp(self._wall(), UTC)
            limit = asyncio.Semaphore(NUDGE_CONCURRENCY)

            async def one(link: PersonLink) -> None:
                async with limit:
                    await self._nudge(link, now, done)

            await asyncio.gather(*(one(link) for link in await self._people.store.nudged()))
            if self.assigned is not None:
                done.assigned = await self.assigned.run_round()
            if done.posted or done.dropped:
                log.info("nudges.round", extra={"posted": len(done.posted), "empty": len(done.empty),
                                                "dropped": len(done.dropped), "failed": len(done.failed)})
            return done

    async def _nudge(self, link: PersonLink, now: datetime, done: NudgeRound) -> None:
        scheduled = _scheduled(link, now, self._people.crm_tz)
        if scheduled is None or now < scheduled:
            return
        day = scheduled.date().isoformat()
        store = self._people.store
        if not await store.claim_nudge(link.user_id, day):
            return  # another round (or instance) took it
        if now - scheduled > self._window:
            await store.settle_nudge(link.user_id, day, NUDGE_DROPPED)
            log.info("nudge.dropped", extra={"user": link.user_id, "day": day,
                                             "late_minutes": int((now - scheduled).total_seconds() // 60)})
            done.dropped.append(link.user_id)
            return
        try:
            message = await self._compose(link, now)
        except CrmError as exc:
            await store.release_nudge(link.user_id, day)
            log.warning("nudge.crm.failed", extra={"user": link.user_id, "error": type(exc).__name__})
            done.failed.append(link.user_id)
            return
        if message is None:
            await store.settle_nudge(link.user_id, day, NUDGE_EMPTY)
            done.empty.append(link.user_id)
            return
        if not await self._post(link, message):  # today's nudge is not retried (it may have been shown)
            done.failed.append(link.user_id)
            return
        await store.settle_nudge(link.user_id, day, NUDGE_POSTED, through=now.timestamp())
        done.posted.append(link.user_id)

    async def _compose(self, link: PersonLink, now: datetime) -> dict[str, Any] | None:
        """The person's nudge as of ``now``; None when nothing is due and nothing is new (raises CRM errors)."""
        # "Today" in the zone the nudge is scheduled in (followed from Slack whenever Home opens).
        ordered, _ = await self._people.agenda(link.user_id, link.sales_id, tz=link.tz)
        since = link.nudged_through if link.nudged_through is not None else link.linked_at
        new = [c for c in ordered.clues if c.hit.created is not None and c.hit.created.at is not None
               and c.hit.created.at.timestamp() > since]
        if not people_cards.nudge_due(ordered) and not new:
            return None
        return people_cards.nudge_message(ordered, new, now, link.locale or self._locale_of(link.user_id))

    async def _post(self, link: PersonLink, message: dict[str, Any]) -> bool:
        try:
            await self._client.chat_postMessage(channel=link.user_id, text=message["text"], blocks=message["blocks"])
        except SlackCallFailed:  # logged by the client
            return False
        return True

    async def send_now(self, user_id: str) -> str:
        """The person's nudge at once, whatever the time and whether today's went out: the playground's "next
        morning" button (no claim is written, nothing changes). ``sent``, ``not_linked``, ``empty`` or
        ``crm_failed``."""
        link = await self._people.store.linked(user_id)
        if link is None:
            return "not_linked"
        try:
            message = await self._compose(link, datetime.fromtimestamp(self._wall(), UTC))
        except CrmError:
            return "crm_failed"
        if message is None:
            return "empty"
        return "sent" if await self._post(link, message) else "slack_failed"

    async def run(self) -> None:
        """A round every interval, the first one interval after start-up; failures pause a round, not the loop."""
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.run_round()
            except (StoreError, CrmError) as exc:
                log.warning("nudges.paused", extra={"error": type(exc).__name__})

    async def stop(self, task: asyncio.Task[None]) -> None:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        with suppress(StoreError):
            await self._lease.release()


def _scheduled(link: PersonLink, now: datetime, default: ZoneInfo) -> datetime | None:
    """Today's nudge time in the person's zone (their local today), as an aware datetime; None when unset."""
    if link.nudge_at is None:
        return None
    hour, minute = (int(part) for part in link.nudge_at.split(":"))
    tz = zone(link.tz, default)
    local_today = now.astimezone(tz).date()
    # A wall time DST skips (02:30 on a spring-forward day) is read with the offset before the change (fold 0).
    return datetime.combine(local_today, time(hour, minute), tz).astimezone(UTC)


def build_nudges(people: People, client: AsyncWebClient, stack: AsyncExitStack, *, lease_ttl: float,
                 window_minutes: int, poll_seconds: float, locale_of: Callable[[str], str],
                 wall: Callable[[], float], owner_of: Callable[[int], Awaitable[Owner | None]], url_for: UrlFor,
                 start: bool = True) -> NudgeService:
    """The nudge service (with "assigned to you") on the people database; with ``start``, its loop runs until
    ``stack`` closes."""
    db = people.store.db
    lease = Lease(db, NUDGE_LEASE, instance_name(), ttl=lease_ttl, wall=wall)
    assigned = AssignedToYou(Assignments(db, wall), people, owner_of, client, url_for=url_for, locale_of=locale_of)
    service = NudgeService(people, client, lease, window=timedelta(minutes=window_minutes), locale_of=locale_of,
                           wall=wall, interval=max(NUDGE_INTERVAL_SECONDS, poll_seconds), assigned=assigned)
    if start:
        task = asyncio.create_task(service.run(), name="people.nudges")
        stack.push_async_callback(service.stop, task)
    return service
