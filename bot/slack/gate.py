"""The one way in for every listener: access rules, the per-person limit and event dedupe.

Listeners never hold the clue cache. The gate admits a request (the allow lists of the rule that
applies, then the person's lookup budget) and hands back a ``Pass``, the only handle that looks clues
up; so a listener cannot reach the CRM without both checks, and every path to the CRM (commands,
buttons, unfurls) spends the same per-person budget. Searches (rule ``SEARCH``) are heavier and spend a
budget of their own; only a search pass can search. A refusal is logged at most once per person per
window and counted in ``cluebot_refusals``: a script hammering the app cannot flood the logs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, Protocol

from bot.cache.clues import ClueCache, FollowUpCache, Lookup, OwnerCache, SearchCache
from bot.cache.timed import Timed
from bot.crm.guard import charged_to
from bot.domain.clue import Clue
from bot.domain.follow_ups import FollowUpPage
from bot.domain.owner import Owner
from bot.domain.search import PageRequest, SearchPage, SearchQuery
from bot.runtime.metrics import Metrics
from bot.slack.access import AccessPolicy
from bot.slack.conversations import ConversationInfo
from bot.slack.inbound import Inbound
from bot.slack.locales import UserLocales
from bot.slack.recent import RecentLookups

log = logging.getLogger(__name__)

LOOKUP = "lookup"  # a card for the person who asked
UNFURL = "unfurl"  # a card in a conversation, for a link someone posted
SHARE = "share"  # a card posted to a conversation by the person who clicked Share
SEARCH = "search"  # a search by name or phone (its own per-person budget)
DETAILS = "details"  # the Work Object details pane: the whole clue for the person who opened it
# Cards whose audience decides: the whole conversation sees them (Share, unfurls), or who opened the pane
# may be from another organisation (the details pane).
AUDIENCE_RULES = frozenset({UNFURL, SHARE, DETAILS})
PERSONAL_RULES = frozenset({LOOKUP, DETAILS})  # a card the person asked for: their recent lookups
REFUSAL_LOG_WINDOW = 60.0  # seconds between two log lines about one person's refusals
_MAX_QUIET = 10_000


class PersonLimits(Protocol):
    def take(self, key: str, count: float = 1) -> float:
        """Take ``count`` from ``key``'s budget: 0 when granted, else seconds until it would be."""


class EventDeduper(Protocol):
    async def seen(self, event_id: str) -> bool:
        """Whether the event was already taken; takes it if not."""


class Refusal(NamedTuple):
    """Why a request gets no lookup: a notice key (``not_allowed``, ``rate_limited``) and its arguments."""

    key: str
    args: Mapping[str, object]


class Placing:
    """A request's place: ``who`` and, while Slack is asked whether the conversation is shared with
    another organisation, that answer in flight with the loop time it is waited for until."""

    __slots__ = ("_deadline", "_mark", "_pending", "who")

    def __init__(self, who: Inbound, pending: asyncio.Future[bool | None] | None = None,
                 deadline: float | None = None,
                 mark: Callable[[Inbound, bool | None], Inbound] | None = None) -> None:
        self.who = who
        self._pending = pending
        self._deadline = deadline
        self._mark = mark or (lambda who, shared: who._replace(slack_connect=shared))  # Slack's answer on who

    @property
    def now(self) -> Inbound | None:
        """``who`` placed, when that needs no waiting; else None."""
        pending = self._pending
        if pending is None:
            return self.who
        if pending.done():
            return self._mark(self.who, pending.result())
        return None

    async def placed(self) -> Inbound:
        """``who`` with what Slack said by the deadline (after it, unknown: the call goes on and is cached
        per conversation for the next request). Any number of readers may wait."""
        pending = self._pending
        if pending is not None and not pending.done():
            remaining = None if self._deadline is None else self._deadline - asyncio.get_running_loop().time()
            if (remaining is not None and remaining <= 0) or not (await asyncio.wait({pending}, timeout=remaining))[0]:
                return self.who
        return self.now or self.who


class Pass:
    """Proof that a request was admitted; the only way listeners look clues up."""

    __slots__ = ("_cache", "_follow_ups", "_owners", "_recent", "_search", "who")

    def __init__(self, cache: ClueCache, follow_ups: FollowUpCache, owners: OwnerCache, who: Inbound,
                 search: SearchCache | None = None, recent: RecentLookups | None = None) -> None:
        self._cache = cache
        self._follow_ups = follow_ups
        self._owners = owners
        self._search = search  # only a pass admitted under SEARCH carries it
        self._recent = recent  # only a pass for the person's own card (LOOKUP, DETAILS) notes what it showed
        self.who = who

    def shown(self, clue: Clue) -> None:
        """The card of ``clue`` reached the person (their recent lookups, on Home)."""
        if self._recent is not None and self.who.user_id:
            self._recent.note(self.who.user_id, clue)

    def cached(self, clue_id: int) -> Lookup | None:
        """A fresh cached clue without any I/O, or None."""
        return self._cache.cached(clue_id)

    async def get(self, clue_id: int, *, refresh: bool = False) -> Lookup:
        with charged_to(self.who.user_id):
            return await self._cache.get(clue_id, refresh=refresh)

    def cached_follow_ups(self, clue_id: int) -> Timed[FollowUpPage] | None:
        """The newest follow-ups, fresh from the cache without any I/O, or None."""
        return self._follow_ups.cached((clue_id, None))

    def follow_ups_failed(self, clue_id: int) -> bool:
        """Whether the newest follow-ups failed to load lately (remembered: asking again costs no CRM call)."""
        return self._follow_ups.failed((clue_id, None)) is not None

    async def follow_ups(self, clue_id: int, cursor: str | None = None, *,
                         refresh: bool = False) -> Timed[FollowUpPage]:
        """One page of the clue's follow-ups, newest first (``cursor``: the previous page's next_cursor;
        ``refresh``: from the CRM even when cached)."""
        with charged_to(self.who.user_id):
            return await self._follow_ups.get((clue_id, cursor), refresh=refresh)

    def cached_owner(self, clue_id: int) -> Timed[Owner | None] | None:
        """Whose lead the clue is, fresh from the cache without any I/O, or None."""
        return self._owners.cached(clue_id)

    def owner_failed(self, clue_id: int) -> bool:
        """Whether reading the clue's owner failed lately (remembered: asking again costs no CRM call)."""
        return self._owners.failed(clue_id) is not None

    async def owner(self, clue_id: int, *, refresh: bool = False) -> Timed[Owner | None]:
        """Whose lead the clue is (``refresh``: from the CRM even when cached)."""
        return await self._owners.get(clue_id, refresh=refresh)

    def peek(self, clue_id: int) -> Clue | None:
        """A clue held in cache, whatever its age, without I/O: to decorate search results."""
        return self._cache.peek(clue_id)

    def search_cached(self, query: SearchQuery, page_no: int = 1) -> Timed[SearchPage] | None:
        """A fresh page of results without any I/O, or None."""
        return self._searches().cached(PageRequest(query, page_no))

    async def search(self, query: SearchQuery, page_no: int = 1) -> Timed[SearchPage]:
        """One page of results: from the cache when fresh, else one CRM search shared by all who ask."""
        with charged_to(self.who.user_id):
            return await self._searches().get(PageRequest(query, page_no))

    def _searches(self) -> SearchCache:
        if self._search is None:
            raise RuntimeError("search with a pass not admitted under the SEARCH rule")
        return self._search


class Gate:
    def __init__(self, *, access: AccessPolicy, cache: ClueCache, follow_ups: FollowUpCache, owners: OwnerCache,
                 people: PersonLimits, events: EventDeduper, locales: UserLocales,
                 conversations: ConversationInfo, metrics: Metrics, monotonic: Callable[[], float],
                 search: SearchCache | None = None, searchers: PersonLimits | None = None) -> None:
        self.access = access
        self.recent = RecentLookups()
        self.locales = locales
        self._conversations = conversations
        self._cache = cache
        self._follow_ups = follow_ups
        self._owners = owners
        self._people = people
        self._search = search
        self._budgets = {SEARCH: searchers or people}
        self._events = events
        self._metrics = metrics
        self._monotonic = monotonic
        self._checks: dict[str, Callable[[Inbound], str | None]] = {
            LOOKUP: access.check_lookup, UNFURL: access.check_unfurl, SHARE: access.check_share,
            SEARCH: access.check_search, DETAILS: access.check_details}
        self._logged_at: dict[tuple[str | None, str], float] = {}

    def admit(self, who: Inbound, rule: str = LOOKUP, *, cost: int = 1) -> Pass | Refusal:
        """A ``Pass`` for ``cost`` lookups (or searches) by ``who`` under ``rule``, or why not. ``cost=0``
        checks the rules only: for answers served from cache, which cost the CRM nothing."""
        denied = self._checks[rule](who)
        if denied is not None:
            self._refused(who, "access", f"{'unfurl' if rule == UNFURL else 'clue'}.access.denied",
                          {"rule": denied, "team": who.team_id, "channel": who.channel_id})
            return Refusal("not_allowed", {"rule": denied, "contact": self.access.admin_contact})
        wait = self._budgets.get(rule, self._people).take(who.user_id or "?", cost)
        if wait > 0:
            self._refused(who, "rate_limited", "clue.user.rate_limited", {"rule": rule})
            return Refusal("rate_limited", {"seconds": max(1, round(wait))})
        return Pass(self._cache, self._follow_ups, self._owners, who, self._search if rule == SEARCH else None,
                    self.recent if rule in PERSONAL_RULES else None)

    def placing(self, who: Inbound, *, within: float | None, rule: str | None = None) -> Placing:
        """Where ``who`` is: whether the conversation is shared with another organisation (``slack_connect``),
        known at once when the payload said it, when no rule needs it, or from the per-conversation cache
        (the usual case: no task, no timer); else ``conversations.info`` starts now, to be waited for at most
        ``within`` seconds (None: until Slack answers) while the request's other reads run."""
        # The details pane asks even where Slack Connect is allowed: the team allow list then needs to know
        # whether other organisations are present.
        asks = not self.access.allow_shared_channels or (rule == DETAILS and bool(self.access.allowed_team_ids))
        if who.slack_connect is not None or who.channel_id is None or not asks:
            return Placing(who)
        at_hand, shared = self._conversations.cached(who.channel_id)
        if at_hand:
            return Placing(self._placed(who, shared))
        loop = asyncio.get_running_loop()
        return Placing(who, asyncio.ensure_future(self._conversations.slack_connect(who.channel_id)),
                       None if within is None else loop.time() + within, self._placed)

    async def place(self, who: Inbound, *, within: float) -> Inbound:
        """``who`` with ``slack_connect`` filled in, waiting at most ``within`` seconds for Slack (the call
        goes on and is cached for the next request; unknown stays None)."""
        return await self.placing(who, within=within).placed()

    def _placed(self, who: Inbound, shared: bool | None) -> Inbound:
        """``who`` with Slack's answer about the conversation; when unknown, whether the app cannot see it."""
        hidden = shared is None and who.channel_id is not None and self._conversations.hidden(who.channel_id)
        return who._replace(slack_connect=shared, conversation_hidden=hidden)

    async def first_delivery(self, body: Mapping[str, Any]) -> bool:
        """Whether this Events API callback is new. Slack redelivers events it thinks we missed
        (``x-slack-retry-num``); the ``event_id`` is the key, since a retry may be the first copy to arrive."""
        event_id = body.get("event_id")
        if not isinstance(event_id, str) or not event_id:
            return True
        if await self._events.seen(event_id):
            log.info("slack.event.duplicate", extra={"event_id": event_id[:64]})
            return False
        return True

    def _refused(self, who: Inbound, reason: str, event: str, extra: dict[str, Any]) -> None:
        self._metrics.refusals.inc(reason)
        now = self._monotonic()
        key = (who.user_id, reason)
        last = self._logged_at.get(key)
        if last is not None and now - last < REFUSAL_LOG_WINDOW:
            return
        if len(self._logged_at) >= _MAX_QUIET:
            self._logged_at.clear()  # at worst, one more line per person
        self._logged_at[key] = now
        log.info(event, extra={"user": who.user_id, **extra})
