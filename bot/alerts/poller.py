"""The new-clue poll: ``clue/list-by-create-time-asc`` from the durable high-water mark.

Each poll reads ``[mark - lookback, now]`` to the second (``since`` inclusive, ``before`` exclusive, CRM time text),
page by page under a bound (a cursor that never ends, or repeats, stops it), skips entries without an id
and clues taken in before, resolves the rest like a card (names, not ids; a clue that fails to resolve is
kept with what is known) and hands them to the store in one transaction with the new mark. The lookback
catches late arrivals (a clue whose createTime is already behind the mark when it appears). The mark
starts at the first poll's "now": a new install does not alert the CRM's history.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.crm.catalog import Catalog
from bot.crm.client import CrmClient
from bot.crm.models import RawClue
from bot.crm.reference import ClueFetcher
from bot.domain.clue import Clue
from bot.errors import CrmError
from bot.store.alerts import AlertStore, NewClue, Subscription
from bot.store.filters import matches

log = logging.getLogger(__name__)

CRM_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class PollResult:
    pages: int  # CRM calls made
    listed: int  # clues the pages held (with repeats from the lookback)
    new: int  # clues taken in
    deliveries: int  # pending deliveries written
    unreadable: int  # entries without an id
    complete: bool  # every page of the window read (else the mark moved only as far as read)


class NewCluePoller:
    def __init__(self, crm: CrmClient, fetcher: ClueFetcher, store: AlertStore, *, tz: ZoneInfo,
                 wall: Callable[[], float], lookback_seconds: float, max_pages: int,
                 also_wanted: Callable[[], Awaitable[bool]] | None = None) -> None:
        """``also_wanted``: whether new clues matter with no subscription (someone is linked to the CRM and
        is told of new clues assigned to them, which reads what the poll takes in)."""
        self._crm = crm
        self._also_wanted = also_wanted
        self._fetcher = fetcher
        self._store = store
        self._tz = tz
        self._wall = wall
        self._lookback = timedelta(seconds=lookback_seconds)
        self._max_pages = max_pages

    async def poll_once(self) -> PollResult:
        now = datetime.fromtimestamp(self._wall(), self._tz)
        before = now.strftime(CRM_TIME_FORMAT)  # the next mark: every clue created before this second is in
        # The window reaches through this second (``before`` is exclusive to the CRM): a clue created a moment
        # ago is alerted by this poll, not the next. The rest of this second comes next time (from the mark).
        until = (now + timedelta(seconds=1)).strftime(CRM_TIME_FORMAT)
        mark = await self._store.high_water()
        active = [s for s in await self._store.subscriptions() if s.active]
        wanted = bool(active) or (self._also_wanted is not None and await self._also_wanted())
        if mark is None or not wanted:
            # Nothing to alert (yet): keep the mark at now, so a first subscription starts from its moment.
            await self._store.set_high_water(before)
            return PollResult(0, 0, 0, 0, 0, complete=True)
        since = (datetime.strptime(mark, CRM_TIME_FORMAT) - self._lookback).strftime(CRM_TIME_FORMAT)
        listed: dict[int, RawClue] = {}
        pages = unreadable = count = 0
        cursor: str | None = None
        asked: set[str | None] = set()
        complete = False
        while pages < self._max_pages:
            asked.add(cursor)
            page = await self._crm.list_clues_by_create_time(since, until, size=PAGE_SIZE, cursor=cursor)
            pages += 1
            unreadable += page.unreadable
            count += len(page.clues)
            for raw in page.clues:
                listed.setdefault(raw.customer_id, raw)
            if not page.next_cursor or page.next_cursor in asked:
                complete = True
                break
            cursor = page.next_cursor
        if unreadable:
            log.warning("alerts.poll.unreadable", extra={"entries": unreadable})
        seen = await self._store.seen(listed)
        fresh = [raw for clue_id, raw in listed.items() if clue_id not in seen]
        new = [NewClue(await self._resolved(raw), raw.create_time) for raw in fresh]
        # A whole window read: everything before this second is in. Cut short: only as far as was read.
        times = [raw.create_time for raw in listed.values() if raw.create_time]
        next_mark = before if complete else (max(times) if times else None)
        written = await self._store.take_in(new, next_mark, _wanted)
        if not complete:
            log.warning("alerts.poll.truncated", extra={"pages": pages, "mark": next_mark})
        result = PollResult(pages, count, len(new), written, unreadable, complete)
        if new:
            log.info("alerts.poll", extra={"pages": pages, "new": len(new), "deliveries": written})
        return result

    async def _resolved(self, raw: RawClue) -> Clue:
        """The clue with names, or (the CRM's reference data failing) with what it says by itself."""
        try:
            return await self._fetcher.resolve(raw)
        except CrmError as exc:
            log.warning("alerts.resolve.failed", extra={"clue_id": raw.customer_id, "error": type(exc).__name__})
            return Catalog().resolve(raw, self._tz)


def _wanted(subscription: Subscription, clue: Clue) -> bool:
    return matches(subscription.filters, clue)
