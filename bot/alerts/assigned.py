"""Assigned to you: when a new clue the alerts poller took in, or a watched clue whose owner changed, is owned by
a linked person, they get a direct message with its card, once.

The poller stores every new clue (``seen_clues``); this reads them past a cursor of its own and, only while
someone is linked, reads each one's owner (``customer/search`` by ``customerId``, one CRM read per new clue).
The owner's name (or WeCom id) is mapped to a salesId through the CRM's employee directory, only when exactly
one employee has it; the people linked to that salesId get the card. A row per (person, clue) is written
before posting: each is sent at most once across a fleet. A CRM failure stops the round where it is; the next
round goes on from there. The first round starts the cursor at the newest clue: history is nobody's news.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts.cards import UrlFor, alert_message
from bot.domain.clue import Clue
from bot.domain.owner import Owner
from bot.domain.people import owners_sales_ids
from bot.errors import CrmError, SlackCallFailed
from bot.slack.people import People
from bot.store.people import Assignments, PersonLink

log = logging.getLogger(__name__)

HEADING = "assigned.new"


@dataclass
class AssignedRound:
    checked: int = 0  # new clues whose owner was read
    sent: list[tuple[str, int]] = field(default_factory=list)  # (person, clue) direct messages


class AssignedToYou:
    def __init__(self, store: Assignments, people: People, owner_of: Callable[[int], Awaitable[Owner | None]],
                 client: AsyncWebClient, *, url_for: UrlFor, locale_of: Callable[[str], str]) -> None:
        self._store = store
        self._people = people
        self._owner_of = owner_of
        self._client = client
        self._url_for = url_for
        self._locale_of = locale_of

    async def run_round(self) -> AssignedRound:
        done = AssignedRound()
        cursor = await self._store.cursor()
        if cursor is None:
            await self._store.start_cursor()
            return done
        seen = await self._store.seen_since(cursor)
        if not seen:
            return done
        by_sales: dict[str, list[PersonLink]] = defaultdict(list)
        for link in await self._store.linked():
            by_sales[link.sales_id].append(link)
        if not by_sales:  # nobody to tell: no owner is read
            await self._store.advance(seen[-1].seen_at)
            return done
        try:
            employees = await self._people.employees()
            for item in seen:
                owner = await self._owner_of(item.clue_id)
                done.checked += 1
                sales_ids, ambiguous = owners_sales_ids(owner.names if owner else (), employees)
                if ambiguous:
                    log.info("assigned.owner.ambiguous", extra={"clue_id": item.clue_id, "names": len(ambiguous)})
                clue = Clue.from_json(item.clue_json) or Clue(id=item.clue_id)
                for link in (link for sales_id in sales_ids for link in by_sales.get(sales_id, ())):
                    await self._tell(link, clue, done)
                await self._store.advance(item.seen_at)
        except CrmError as exc:
            log.warning("assigned.crm.failed", extra={"error": type(exc).__name__, "checked": done.checked})
        return done

    async def owner_changed(self, clue: Clue, owner: Owner) -> None:
        """A watched clue has a new owner: those of its owners who are linked get its card, once each (a
        person already told of this clue is not told again)."""
        linked = await self._store.linked()
        if not linked:
            return
        try:
            employees = await self._people.employees()
        except CrmError as exc:
            log.warning("assigned.crm.failed", extra={"error": type(exc).__name__, "clue_id": clue.id})
            return
        sales_ids, _ = owners_sales_ids(owner.names, employees)
        done = AssignedRound()
        for link in (link for link in linked if link.sales_id in sales_ids):
            await self._tell(link, clue, done)

    async def _tell(self, link: PersonLink, clue: Clue, done: AssignedRound) -> None:
        clue_id = clue.id
        if not await self._store.claim(link.user_id, clue_id):
            return
        message = alert_message(clue, link.locale or self._locale_of(link.user_id), self._url_for, heading=HEADING)
        try:
            await self._client.chat_postMessage(channel=link.user_id, text=message["text"], blocks=message["blocks"])
        except SlackCallFailed:  # logged by the client; not retried (at most once)
            return
        await self._store.posted(link.user_id, clue_id)
        log.info("assigned.sent", extra={"user": link.user_id, "clue_id": clue_id})
        done.sent.append((link.user_id, clue_id))
