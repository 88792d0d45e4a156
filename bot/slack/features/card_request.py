"""One card request for every surface: ``/clue``, Refresh, Share, Reveal, Show, the modals, the modal pick,
link previews and the details pane all read a card here.

A request starts its reads together: the clue, its newest follow-ups, whose lead it is (customer/search by
``customerId``: clue/get names no owner) and, where the card depends on it, whether the conversation is
shared with another organisation (``conversations.info``). A card then takes about one CRM round trip, not
the sum of its calls; the follow-ups and the owner never hold it longer than the card's short wait (past
it, the card shows without them and the reads go on to fill their caches). What is in cache costs no task
and no I/O (``CardRequests.at_hand``: the ``/clue`` fast path).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, NamedTuple, TypeVar

from bot.cache.clues import Lookup
from bot.cache.timed import Timed
from bot.domain.follow_ups import FollowUpPage
from bot.domain.owner import Owner
from bot.errors import BotError
from bot.slack.gate import AUDIENCE_RULES, Gate, Pass, Placing, Refusal
from bot.slack.inbound import Inbound
from bot.slack.render import CardRenderer, Rendered

log = logging.getLogger(__name__)

T = TypeVar("T")
FollowUpRead = asyncio.Future[Timed[FollowUpPage]]
OwnerRead = asyncio.Future[Timed[Owner | None]]
ClueRead = asyncio.Future[Lookup] | Coroutine[Any, Any, Lookup]


class Card(NamedTuple):
    """What the renderer needs for one card: the clue, its reader placed (the Share button depends on the
    conversation), the newest follow-ups if they came in time (``follow_ups_missing``: looked up and not),
    and whose lead it is if that came in time. A NamedTuple: the ``/clue`` fast path builds one per cache hit."""

    lookup: Lookup
    who: Inbound
    follow_ups: Timed[FollowUpPage] | None = None
    follow_ups_missing: bool = False
    owner: Timed[Owner | None] | None = None

    def render(self, renderer: CardRenderer, locale: str, **options: Any) -> Rendered:
        return renderer.card(self.lookup, locale, self.who, follow_ups=self.follow_ups,
                             follow_ups_missing=self.follow_ups_missing, owner=self.owner, **options)


class PendingCard:
    """The reads of one card, in flight under one admission."""

    __slots__ = ("_admitted", "_clue", "_follow_up_wait", "_follow_ups", "_owner", "_refresh", "clue_id", "placing")

    def __init__(self, admitted: Pass, placing: Placing, clue_id: int, clue: ClueRead,
                 follow_ups: FollowUpRead | None, *, follow_up_wait: float, refresh: bool,
                 owner: OwnerRead | None = None) -> None:
        self._admitted = admitted
        self.placing = placing
        self.clue_id = clue_id
        self._clue = clue
        self._follow_ups = follow_ups
        self._owner = owner
        self._follow_up_wait = follow_up_wait
        self._refresh = refresh

    @property
    def admitted(self) -> Pass:
        """The admission the reads were made under (for further pages)."""
        return self._admitted

    def clue(self) -> Awaitable[Lookup]:
        """The clue's read, to be awaited once (raises ``BotError`` when the CRM cannot answer)."""
        return self._clue

    async def card(self) -> Card:
        """The whole card: the clue, then whatever else came by then (follow-ups and owner: within the card's
        one wait, shared). Raises ``BotError`` when the clue cannot be read."""
        try:
            lookup = await self._clue
        except BotError:
            self.cancel()
            raise
        loop = asyncio.get_running_loop()
        until = loop.time() + self._follow_up_wait
        follow_ups = await self.follow_ups(self._follow_up_wait)
        owner = await self.owner(max(0.0, until - loop.time()))
        self._admitted.shown(lookup.value)
        return Card(lookup, await self.placing.placed(), follow_ups,
                    follow_ups_missing=self._follow_ups is not None and follow_ups is None, owner=owner)

    async def follow_ups(self, wait: float | None) -> Timed[FollowUpPage] | None:
        """The newest follow-ups if they come within ``wait`` seconds (None: however long the CRM takes), else
        None: the shared lookup goes on and fills the cache for the next view. A refresh that comes late
        falls back on what the cache knew."""
        return await self._within(self._follow_ups, wait, "clue.follow_ups",
                                  lambda: self._admitted.cached_follow_ups(self.clue_id))

    async def owner(self, wait: float | None) -> Timed[Owner | None] | None:
        """Whose lead the clue is if that comes within ``wait`` seconds, as ``follow_ups``."""
        return await self._within(self._owner, wait, "clue.owner", lambda: self._admitted.cached_owner(self.clue_id))

    async def _within(self, work: asyncio.Future[T] | None, wait: float | None, event: str,
                      cached: Callable[[], T | None]) -> T | None:
        if work is None or work.cancelled():
            return None
        if not work.done() and not (await asyncio.wait({work}, timeout=wait))[0]:
            work.cancel()
            log.info(f"{event}.late", extra={"clue_id": self.clue_id})
            return cached() if self._refresh else None
        error = work.exception()
        if isinstance(error, BotError):
            log.warning(f"{event}.failed", extra={"clue_id": self.clue_id, "error": type(error).__name__})
            return None
        return work.result()  # anything else is a bug: raised

    def cancel(self) -> None:
        """Stop waiting for the reads (shared lookups go on for their other waiters and the cache)."""
        if isinstance(self._clue, asyncio.Future):
            self._clue.cancel()
        else:
            self._clue.close()  # never awaited, or done: nothing runs
        for read in (self._follow_ups, self._owner):
            if read is not None:
                read.cancel()


class CardRequests:
    """Admission, placing and the reads of cards, for every surface (built once from ``FeatureDeps``)."""

    def __init__(self, gate: Gate, follow_up_wait: float) -> None:
        self._gate = gate
        self._follow_up_wait = follow_up_wait

    async def admit(self, who: Inbound, rule: str, *, cost: int = 1, place: bool = True,
                    within: float | None = None) -> tuple[Pass | Refusal, Placing]:
        """The gate's answer for a card request by ``who`` and its placing, the conversation check started
        (``place``; waited for at most ``within`` seconds, None: until Slack answers) to run beside the reads.
        A card the whole conversation sees (``AUDIENCE_RULES``) is admitted by that answer, so it waits for it
        first: a refused request costs the CRM nothing. It is cached per conversation, and Share is offered
        only where it was known, so it is usually at hand."""
        placing = self._gate.placing(who, within=within, rule=rule) if place else Placing(who)
        placed = placing.now
        if placed is None and rule in AUDIENCE_RULES:
            placing = Placing(placed := await placing.placed())
        return self._gate.admit(placed or who, rule, cost=cost), placing

    def at_hand(self, admitted: Pass, placing: Placing, clue_id: int) -> Card | None:
        """The card from the cache without any I/O or task: a fresh clue, its follow-ups and owner fresh (or
        lately failed, remembered), and the conversation known. None when any of it needs a read."""
        who = placing.now
        if who is None:
            return None
        hit = admitted.cached(clue_id)
        if hit is None:
            return None
        follow_ups = admitted.cached_follow_ups(clue_id)
        if follow_ups is None and not admitted.follow_ups_failed(clue_id):
            return None
        owner = admitted.cached_owner(clue_id)
        if owner is None and not admitted.owner_failed(clue_id):
            return None
        admitted.shown(hit.value)
        return Card(hit, who, follow_ups, follow_ups_missing=follow_ups is None, owner=owner)

    def start(self, admitted: Pass, placing: Placing, clue_id: int, *, refresh: bool = False,
              follow_ups: bool = True, owner: bool = True) -> PendingCard:
        """Start the reads of one card together (``refresh``: from the CRM even when cached; ``owner``: whose
        lead it is, for the surfaces that show it). The clue's read runs as a task of its own only beside
        another read still in flight; alone (an unfurl, a known conversation and cached follow-ups) it is
        read when awaited, at no task's cost."""
        follow_up_read = _read(lambda: admitted.cached_follow_ups(clue_id),
                               lambda: admitted.follow_ups(clue_id, refresh=refresh), refresh) if follow_ups else None
        owner_read = _read(lambda: admitted.cached_owner(clue_id), lambda: admitted.owner(clue_id, refresh=refresh),
                           refresh) if owner else None
        read = admitted.get(clue_id, refresh=refresh)
        beside = any(r is not None and not r.done() for r in (follow_up_read, owner_read)) or placing.now is None
        clue: ClueRead = asyncio.ensure_future(read) if beside else read
        return PendingCard(admitted, placing, clue_id, clue, follow_up_read, follow_up_wait=self._follow_up_wait,
                           refresh=refresh, owner=owner_read)

    async def card(self, who: Inbound, clue_id: int, rule: str, *, place: bool = True, within: float | None = None,
                   refresh: bool = False, follow_ups: bool = True) -> Card | Refusal:
        """One card's request from admission to the card: every read started at once. Raises ``BotError``
        when the clue cannot be read."""
        admitted, placing = await self.admit(who, rule, place=place, within=within)
        if isinstance(admitted, Refusal):
            return admitted
        return await self.start(admitted, placing, clue_id, refresh=refresh, follow_ups=follow_ups).card()


async def clues(pending: Sequence[PendingCard]) -> list[Lookup | BaseException]:
    """Each card's clue or its error, in order (sorted by the caller, as ``gather(return_exceptions=True)``
    would); one card (the usual post of one link) without a task of its own."""
    if len(pending) == 1:
        try:
            return [await pending[0].clue()]
        except Exception as exc:
            return [exc]
    return list(await asyncio.gather(*(card.clue() for card in pending), return_exceptions=True))


def _read(cache: Callable[[], T | None], read: Callable[[], Coroutine[Any, Any, T]],
          refresh: bool) -> asyncio.Future[T]:
    """A read of the card beside its clue: what the cache holds fresh (unless ``refresh``) without a task or
    timer, else ``read()`` started."""
    cached = None if refresh else cache()
    if cached is None:
        return asyncio.ensure_future(read())
    ready: asyncio.Future[T] = asyncio.get_running_loop().create_future()
    ready.set_result(cached)
    return ready
