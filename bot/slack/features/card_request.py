"""One card request for every surface: ``/clue``, Refresh, Share, Reveal, Show, the modals, the modal pick,
link previews and the details pane all read a card here.

A request starts its reads together: the clue, its newest follow-ups and, where the card depends on it,
whether the conversation is shared with another organisation (``conversations.info``). A card then takes
about one CRM round trip, not the sum of its calls. What is in cache costs no task and no I/O
(``CardRequests.at_hand``: the ``/clue`` fast path). Another read of the card (its owner, #21) starts in
``CardRequests.start`` beside the others and lands in ``Card``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Coroutine, Sequence
from typing import Any, NamedTuple

from bot.cache.clues import Lookup
from bot.cache.timed import Timed
from bot.domain.follow_ups import FollowUpPage
from bot.errors import BotError
from bot.slack.gate import AUDIENCE_RULES, Gate, Pass, Placing, Refusal
from bot.slack.inbound import Inbound
from bot.slack.render import CardRenderer, Rendered

log = logging.getLogger(__name__)

FollowUpRead = asyncio.Future[Timed[FollowUpPage]]
ClueRead = asyncio.Future[Lookup] | Coroutine[Any, Any, Lookup]


class Card(NamedTuple):
    """What the renderer needs for one card: the clue, its reader placed (the Share button depends on the
    conversation), and the newest follow-ups if they came in time (``follow_ups_missing``: looked up and not).
    A NamedTuple: the ``/clue`` fast path builds one per cache hit."""

    lookup: Lookup
    who: Inbound
    follow_ups: Timed[FollowUpPage] | None = None
    follow_ups_missing: bool = False

    def render(self, renderer: CardRenderer, locale: str, **options: Any) -> Rendered:
        return renderer.card(self.lookup, locale, self.who, follow_ups=self.follow_ups,
                             follow_ups_missing=self.follow_ups_missing, **options)


class PendingCard:
    """The reads of one card, in flight under one admission."""

    __slots__ = ("_admitted", "_clue", "_follow_up_wait", "_follow_ups", "_refresh", "clue_id", "placing")

    def __init__(self, admitted: Pass, placing: Placing, clue_id: int, clue: ClueRead,
                 follow_ups: FollowUpRead | None, *, follow_up_wait: float, refresh: bool) -> None:
        self._admitted = admitted
        self.placing = placing
        self.clue_id = clue_id
        self._clue = clue
        self._follow_ups = follow_ups
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
        """The whole card: the clue, then whatever else came by then (follow-ups: within the card's wait).
        Raises ``BotError`` when the clue cannot be read."""
        try:
            lookup = await self._clue
        except BotError:
            self.cancel()
            raise
        follow_ups = await self.follow_ups(self._follow_up_wait)
        return Card(lookup, await self.placing.placed(), follow_ups,
                    follow_ups_missing=self._follow_ups is not None and follow_ups is None)

    async def follow_ups(self, wait: float | None) -> Timed[FollowUpPage] | None:
        """The newest follow-ups if they come within ``wait`` seconds (None: however long the CRM takes), else
        None: the shared lookup goes on and fills the cache for the next view. A refresh that comes late
        falls back on what the cache knew."""
        work = self._follow_ups
        if work is None or work.cancelled():
            return None
        if not work.done() and not (await asyncio.wait({work}, timeout=wait))[0]:
            work.cancel()
            log.info("clue.follow_ups.late", extra={"clue_id": self.clue_id})
            return self._admitted.cached_follow_ups(self.clue_id) if self._refresh else None
        error = work.exception()
        if isinstance(error, BotError):
            log.warning("clue.follow_ups.failed", extra={"clue_id": self.clue_id, "error": type(error).__name__})
            return None
        return work.result()  # anything else is a bug: raised

    def cancel(self) -> None:
        """Stop waiting for the reads (shared lookups go on for their other waiters and the cache)."""
        if isinstance(self._clue, asyncio.Future):
            self._clue.cancel()
        else:
            self._clue.close()  # never awaited, or done: nothing runs
        if self._follow_ups is not None:
            self._follow_ups.cancel()


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
        """The card from the cache without any I/O or task: a fresh clue, its follow-ups fresh (or lately
        failed, remembered), and the conversation known. None when any of it needs a read."""
        who = placing.now
        if who is None:
            return None
        hit = admitted.cached(clue_id)
        if hit is None:
            return None
        follow_ups = admitted.cached_follow_ups(clue_id)
        if follow_ups is None and not admitted.follow_ups_failed(clue_id):
            return None
        return Card(hit, who, follow_ups, follow_ups_missing=follow_ups is None)

    def start(self, admitted: Pass, placing: Placing, clue_id: int, *, refresh: bool = False,
              follow_ups: bool = True) -> PendingCard:
        """Start the reads of one card together (``refresh``: from the CRM even when cached). The clue's read
        runs as a task of its own only beside another read still in flight; alone (an unfurl, a known
        conversation and cached follow-ups) it is read when awaited, at no task's cost."""
        follow_up_read = _follow_ups(admitted, clue_id, refresh) if follow_ups else None
        read = admitted.get(clue_id, refresh=refresh)
        beside = (follow_up_read is not None and not follow_up_read.done()) or placing.now is None
        clue: ClueRead = asyncio.ensure_future(read) if beside else read
        return PendingCard(admitted, placing, clue_id, clue, follow_up_read, follow_up_wait=self._follow_up_wait,
                           refresh=refresh)

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


def _follow_ups(admitted: Pass, clue_id: int, refresh: bool) -> FollowUpRead:
    """The newest follow-ups, from the cache when fresh (unless ``refresh``) without a task or timer."""
    cached = None if refresh else admitted.cached_follow_ups(clue_id)
    if cached is None:
        return asyncio.ensure_future(admitted.follow_ups(clue_id, refresh=refresh))
    ready: FollowUpRead = asyncio.get_running_loop().create_future()
    ready.set_result(cached)
    return ready
