"""Slack listeners: ``/clue``, the card buttons and ``link_shared``.

Bound methods holding their dependencies; parameter names are Bolt's injection names. The app runs
with ``process_before_response=True``, so every listener returns quickly: answers that are ready
(help, usage errors, cache hits, CRM answers within the ack budget) go in the ack itself; anything
slower continues in the ``TaskRunner`` and reaches the user through ``respond`` or ``chat.unfurl``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from cachetools import LRUCache, TTLCache
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.cache.clues import ClueCache, Lookup
from bot.errors import BotError, ClueNotFound, CrmAuthError, CrmUnavailable, InvalidClueId
from bot.runtime.tasks import TaskRunner
from bot.slack import cards
from bot.slack.access import AccessPolicy, Place
from bot.slack.links import CommandRequest, LinkMatcher, parse_clue_id, parse_command
from bot.slack.locales import UserLocales
from bot.userlimit import UserRateLimiter

log = logging.getLogger(__name__)

Message = dict[str, Any]
Respond = Callable[..., Awaitable[Any]]
Ack = Callable[..., Awaitable[Any]]
MAX_UNFURL_LINKS = 5
MEMO_TEXT_CHARS = 200  # longer /clue texts (several links) are rare: parsed afresh each time


class EventDeduper(Protocol):
    async def seen(self, event_id: str) -> bool:
        """Whether the event was already taken; takes it if not."""


class LocalEventDeduper:
    """Event ids this process has taken, for an hour (``bot.fleet.redis.RedisEventDeduper`` spans instances)."""

    def __init__(self, monotonic: Callable[[], float]) -> None:
        self._seen: TTLCache[str, bool] = TTLCache(10_000, 3600, timer=monotonic)

    async def seen(self, event_id: str) -> bool:
        if event_id in self._seen:
            return True
        self._seen[event_id] = True
        return False


@dataclass(frozen=True, slots=True)
class ListenerOptions:
    ack_budget: float
    max_ids: int
    default_locale: str


def error_key(exc: BaseException) -> str:
    """The i18n key of the notice that explains an error to a person."""
    if isinstance(exc, ClueNotFound):
        return "not_found"
    if isinstance(exc, CrmAuthError):
        return "crm_clock" if exc.clock_skew else "crm_auth"
    if isinstance(exc, CrmUnavailable):
        return "crm_unavailable"
    return "crm_error"


class ClueListeners:
    """Every listener of the app, sharing one cache, matcher, runner and policy."""

    def __init__(self, *, cache: ClueCache, matcher: LinkMatcher, runner: TaskRunner, access: AccessPolicy,
                 user_limiter: UserRateLimiter, locales: UserLocales, events: EventDeduper,
                 options: ListenerOptions, wall: Callable[[], float]) -> None:
        self._cache = cache
        self._matcher = matcher
        self._runner = runner
        self._access = access
        self._user_limiter = user_limiter
        self._locales = locales
        self._options = options
        self._wall = wall
        self._events = events
        self._rendered: LRUCache[tuple[Any, ...], _Rendered] = LRUCache(maxsize=2048)
        # Parsing is pure and most commands repeat (`/clue 8`): short texts are remembered (C lru_cache,
        # ~50 ns a hit, at most 1024 x MEMO_TEXT_CHARS characters held).
        self._parse_short = functools.lru_cache(maxsize=1024)(
            functools.partial(parse_command, matcher=matcher, max_ids=options.max_ids))

    # ------------------------------------------------------------ /clue

    async def on_command(self, ack: Ack, command: Mapping[str, Any], respond: Respond) -> BoltResponse | None:
        place = Place.from_command(command)
        locale = self._locales.get(place.user_id)
        text = str(command.get("text") or "")
        request = self._parse_short(text) if len(text) <= MEMO_TEXT_CHARS else \
            parse_command(text, self._matcher, self._options.max_ids)
        refusal = self._refusal(request, place, locale)
        if refusal is not None:
            await ack(response_type="ephemeral", **refusal)
            return None
        if len(request.ids) == 1:
            clue_id = request.ids[0]
            hit = self._cache.cached(clue_id)
            if hit is not None:
                # Fast path: no I/O, no task, and (rendered before) no re-rendering or re-encoding.
                # With process_before_response=True, Bolt sends a listener's returned response as the ack
                # (as application/json;charset=utf-8, since the body starts with "{").
                return BoltResponse(status=200, body=self._render(hit, locale, place).ack_body)
            work: asyncio.Future[Message] = asyncio.ensure_future(self._single(clue_id, locale, place))
        else:
            work = asyncio.ensure_future(self._several(request.ids, locale, place))
        done, _ = await asyncio.wait({work}, timeout=self._options.ack_budget)
        if done:
            await ack(response_type="ephemeral", **work.result())
            return None
        first = request.ids[0]
        await ack(response_type="ephemeral", **cards.notice_message(locale, "looking_up", id=first))
        self._runner.spawn(self._replace_when_done(work, respond, locale), name="clue.command.slow")
        return None

    def _refusal(self, request: CommandRequest, place: Place, locale: str) -> Message | None:
        """A notice instead of a lookup: help, bad input, access rules, rate limit."""
        if request.help:
            return cards.notice_message(locale, "usage", max_ids=self._options.max_ids)
        if request.invalid:
            bad = request.invalid[0]
            return cards.notice_message(locale, "invalid_id", text=bad.text[:40], reason=bad.reason)
        if request.too_many:
            return cards.notice_message(locale, "too_many", max_ids=self._options.max_ids)
        denied = self._access.check_lookup(place)
        if denied is not None:
            log.info("clue.access.denied", extra={"rule": denied, "user": place.user_id, "team": place.team_id})
            return cards.notice_message(locale, "not_allowed", rule=denied, contact=self._access.admin_contact)
        wait = self._user_limiter.take(place.user_id, len(request.ids))
        if wait > 0:
            log.info("clue.user.rate_limited", extra={"user": place.user_id})
            return cards.notice_message(locale, "rate_limited", seconds=max(1, round(wait)))
        return None

    async def _single(self, clue_id: int, locale: str, place: Place) -> Message:
        try:
            lookup = await self._cache.get(clue_id)
        except BotError as exc:
            return self._error_notice(exc, clue_id, locale)
        return self._card(lookup, locale, place)

    async def _several(self, ids: tuple[int, ...], locale: str, place: Place) -> Message:
        results = await asyncio.gather(*(self._cache.get(i) for i in ids), return_exceptions=True)
        items: list[cards.ListItem] = []
        for clue_id, result in zip(ids, results, strict=True):
            if isinstance(result, Lookup):
                items.append(result.clue)
            elif isinstance(result, BotError):
                self._log_failure(result, clue_id)
                items.append((clue_id, error_key(result)))
            else:
                raise result
        return cards.clue_list_message(items, self._options_for(None, locale, place),
                                       urls={i: self._matcher.url_for(i) for i in ids})

    async def _replace_when_done(self, work: asyncio.Future[Message], respond: Respond, locale: str) -> None:
        try:
            message = await work
        except Exception:
            # A bug, logged by the task runner; the placeholder must not promise an answer forever.
            await respond(replace_original=True, response_type="ephemeral",
                          **cards.notice_message(locale, "internal_error"))
            raise
        await respond(replace_original=True, response_type="ephemeral", **message)

    # ------------------------------------------------------------ buttons

    async def on_refresh(self, ack: Ack, body: Mapping[str, Any], respond: Respond,
                         client: AsyncWebClient) -> None:
        await ack()
        action = _Action.parse(body)
        if action is None:
            return
        self._runner.spawn(self._refresh(action, respond, client), name="clue.refresh")

    async def _refresh(self, action: _Action, respond: Respond, client: AsyncWebClient) -> None:
        # Cards others see speak the workspace default; a private card, its reader's language.
        private = action.ephemeral and action.unfurl_url is None
        locale = self._locales.get(action.place.user_id) if private else self._options.default_locale
        check = self._access.check_unfurl if action.unfurl_url else self._access.check_lookup
        lookup = await self._authorized_lookup(action, respond, locale, check, refresh=True)
        if lookup is None:
            return
        if action.unfurl_url is not None:
            # Unfurls have no response_url: re-running chat.unfurl updates them in place.
            blocks = cards.clue_unfurl(lookup.clue, self._options_for(lookup, locale, action.place,
                                                                        channel=True))
            if action.place.channel_id and action.message_ts:
                target = UnfurlTarget(channel=action.place.channel_id, ts=action.message_ts)
                await self._chat_unfurl(client, target, {action.unfurl_url: blocks})
            return
        message = self._card(lookup, locale, action.place, channel=not action.ephemeral)
        await respond(replace_original=True, **message)

    async def on_share(self, ack: Ack, body: Mapping[str, Any], respond: Respond) -> None:
        await ack()
        action = _Action.parse(body)
        if action is None:
            return
        self._runner.spawn(self._share(action, respond), name="clue.share")

    async def _share(self, action: _Action, respond: Respond) -> None:
        locale = self._locales.get(action.place.user_id)  # for notices only the sharer sees
        lookup = await self._authorized_lookup(action, respond, locale, self._access.check_share)
        if lookup is None:
            return
        message = self._card(lookup, self._options.default_locale, action.place, channel=True,
                             shared_by=action.place.user_id)
        await respond(response_type="in_channel", replace_original=False, **message)
        await respond(delete_original=True)

    async def on_reveal(self, ack: Ack, body: Mapping[str, Any], respond: Respond) -> None:
        await ack()
        action = _Action.parse(body)
        if action is None or not action.ephemeral:
            return  # a phone is only ever revealed on the clicking user's own ephemeral card
        self._runner.spawn(self._reveal(action, respond), name="clue.reveal")

    async def _reveal(self, action: _Action, respond: Respond) -> None:
        locale = self._locales.get(action.place.user_id)
        lookup = await self._authorized_lookup(action, respond, locale, self._access.check_lookup)
        if lookup is None:
            return
        log.info("audit.phone.revealed", extra={
            "user": action.place.user_id, "team": action.place.team_id, "channel": action.place.channel_id,
            "clue_id": action.clue_id, "at": datetime.fromtimestamp(self._wall(), UTC).isoformat()})
        await respond(replace_original=True, response_type="ephemeral",
                      **self._card(lookup, locale, action.place, reveal_phone=True))

    async def _authorized_lookup(self, action: _Action, respond: Respond, locale: str,
                                 check: Callable[[Place], str | None], *, refresh: bool = False) -> Lookup | None:
        """The clue behind a button, for the person who clicked (the value is untrusted), or None
        after telling them why not. Unfurls have no response_url: their failures are only logged."""
        notify = action.unfurl_url is None
        denied = check(action.place)
        if denied is not None:
            log.info("clue.access.denied", extra={"rule": denied, "user": action.place.user_id})
            if notify:
                await respond(replace_original=False, response_type="ephemeral",
                              **cards.notice_message(locale, "not_allowed", rule=denied,
                                                     contact=self._access.admin_contact))
            return None
        try:
            return await self._cache.get(action.clue_id, refresh=refresh)
        except BotError as exc:
            if notify:
                await respond(replace_original=False, response_type="ephemeral",
                              **self._error_notice(exc, action.clue_id, locale))
            else:
                self._log_failure(exc, action.clue_id)
            return None

    async def on_open(self, ack: Ack) -> None:
        await ack()  # a URL button still sends an action; Slack only needs the ack

    # ------------------------------------------------------------ link_shared

    async def on_link_shared(self, event: Mapping[str, Any], body: Mapping[str, Any],
                             client: AsyncWebClient) -> None:
        # Slack redelivers events it thinks we missed (x-slack-retry-num); the event_id is the key,
        # since a retry may be the first copy to arrive.
        event_id = str(body.get("event_id") or "")
        if event_id and await self._events.seen(event_id):
            log.info("unfurl.event.duplicate", extra={"event_id": event_id})
            return
        place = Place.from_event(event, body)
        denied = self._access.check_unfurl(place)
        if denied is not None:
            log.info("unfurl.access.denied", extra={"rule": denied, "channel": place.channel_id})
            return
        targets: dict[str, int] = {}
        for link in list(event.get("links") or [])[:MAX_UNFURL_LINKS * 4]:
            url = link.get("url") if isinstance(link, Mapping) else None
            if isinstance(url, str) and (clue_id := self._matcher.match(url)) is not None:
                targets.setdefault(url, clue_id)
        if not targets:
            return
        target = _unfurl_target(event)
        if target is None:
            log.warning("unfurl.event.malformed", extra={"event_id": event_id})
            return
        picked = dict(list(targets.items())[:MAX_UNFURL_LINKS])
        self._runner.spawn(self._unfurl(picked, target, client), name="clue.unfurl")

    async def _unfurl(self, targets: dict[str, int], target: UnfurlTarget, client: AsyncWebClient) -> None:
        ids = list(dict.fromkeys(targets.values()))
        results = await asyncio.gather(*(self._cache.get(i) for i in ids), return_exceptions=True)
        lookups: dict[int, Lookup] = {}
        for clue_id, result in zip(ids, results, strict=True):
            if isinstance(result, Lookup):
                lookups[clue_id] = result
            elif isinstance(result, BotError):
                self._log_failure(result, clue_id, event="unfurl.link.skipped")
            else:
                raise result
        locale = self._options.default_locale
        unfurls = {
            url: cards.clue_unfurl(lookups[clue_id].clue,
                                   self._options_for(lookups[clue_id], locale, None, channel=True))
            for url, clue_id in targets.items() if clue_id in lookups
        }
        if unfurls:
            await self._chat_unfurl(client, target, unfurls)

    @staticmethod
    async def _chat_unfurl(client: AsyncWebClient, target: UnfurlTarget, unfurls: Mapping[str, Any]) -> None:
        try:
            await client.chat_unfurl(channel=target.channel, ts=target.ts, unfurl_id=target.unfurl_id,
                                     source=target.source, unfurls=dict(unfurls))
        except SlackApiError as exc:
            log.warning("unfurl.failed", extra={"error": str(exc.response.get("error")), "links": len(unfurls)})

    # ------------------------------------------------------------ rendering

    def _card(self, lookup: Lookup, locale: str, place: Place | None, *, channel: bool = False,
              shared_by: str | None = None, reveal_phone: bool = False) -> Message:
        return self._render(lookup, locale, place, channel=channel, shared_by=shared_by,
                            reveal_phone=reveal_phone).message

    def _render(self, lookup: Lookup, locale: str, place: Place | None, *, channel: bool = False,
                shared_by: str | None = None, reveal_phone: bool = False) -> _Rendered:
        """The card, from the render cache when this version of the clue was rendered alike before.

        Rendering is ~200 µs of slack_sdk model work, and a cached clue is the same clue until its
        fetch time changes. Stale cards are never kept: they show an age that keeps changing.
        """
        shareable = place is not None and self._access.check_share(place) is None
        reveal_phone = reveal_phone and not channel
        key = (lookup.clue.id, lookup.fetched_at, locale, channel, shareable, reveal_phone, shared_by)
        rendered = None if lookup.stale else self._rendered.get(key)
        if rendered is None:
            opts = self._options_for(lookup, locale, place, channel=channel, shared_by=shared_by,
                                     reveal_phone=reveal_phone)
            rendered = _Rendered(cards.clue_message(lookup.clue, opts))
            if not lookup.stale:
                self._rendered[key] = rendered
        return rendered

    def _options_for(self, lookup: Lookup | None, locale: str, place: Place | None, *, channel: bool = False,
                     shared_by: str | None = None, reveal_phone: bool = False) -> cards.CardOptions:
        now = datetime.fromtimestamp(self._wall(), UTC)
        clue_id = lookup.clue.id if lookup else None
        return cards.CardOptions(
            locale=locale,
            audience=cards.AUDIENCE_CHANNEL if channel else cards.AUDIENCE_PRIVATE,
            now=now,
            fetched_at=datetime.fromtimestamp(lookup.fetched_at, UTC) if lookup else now,
            stale=lookup.stale if lookup else False,
            clue_url=self._matcher.url_for(clue_id) if clue_id is not None else None,
            shareable=place is not None and self._access.check_share(place) is None,
            reveal_phone=reveal_phone and not channel,
            shared_by=shared_by,
        )

    def _error_notice(self, exc: BotError, clue_id: int, locale: str) -> Message:
        self._log_failure(exc, clue_id)
        return cards.notice_message(locale, error_key(exc), id=clue_id)

    @staticmethod
    def _log_failure(exc: BotError, clue_id: int, event: str = "clue.lookup.failed") -> None:
        level = logging.INFO if isinstance(exc, ClueNotFound) else logging.WARNING
        log.log(level, event, extra={"clue_id": clue_id, "error": type(exc).__name__, "detail": str(exc)})


class _Rendered:
    """A rendered card, and its ephemeral ack body encoded once (on first use)."""

    __slots__ = ("_ack_body", "message")

    def __init__(self, message: Message) -> None:
        self.message = message
        self._ack_body: str | None = None

    @property
    def ack_body(self) -> str:
        if self._ack_body is None:
            self._ack_body = json.dumps({"response_type": "ephemeral", **self.message}, ensure_ascii=False)
        return self._ack_body


@dataclass(frozen=True, slots=True)
class _Action:
    """A button click, validated: the clue id from the value is untrusted and re-parsed."""

    clue_id: int
    place: Place
    ephemeral: bool
    message_ts: str | None
    unfurl_url: str | None

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> _Action | None:
        actions = body.get("actions")
        if not isinstance(actions, list) or not actions or not isinstance(actions[0], Mapping):
            return None
        try:
            clue_id = parse_clue_id(str(actions[0].get("value") or ""))
        except InvalidClueId:
            log.info("action.value.invalid")
            return None
        container = body.get("container")
        if not isinstance(container, Mapping):
            container = {}
        unfurl_url = container.get("app_unfurl_url") if container.get("is_app_unfurl") else None
        return cls(
            clue_id=clue_id,
            place=Place.from_action(body),
            ephemeral=bool(container.get("is_ephemeral")),
            message_ts=str(container.get("message_ts") or "") or None,
            unfurl_url=unfurl_url if isinstance(unfurl_url, str) else None,
        )


@dataclass(frozen=True, slots=True)
class UnfurlTarget:
    """Where chat.unfurl points: a posted message (channel + ts) or a composer preview (unfurl_id + source)."""

    channel: str | None = None
    ts: str | None = None
    unfurl_id: str | None = None
    source: str | None = None


def _unfurl_target(event: Mapping[str, Any]) -> UnfurlTarget | None:
    if event.get("source") == "composer" or "COMPOSER" in (event.get("channel"), event.get("channel_id")):
        unfurl_id = event.get("unfurl_id")
        return UnfurlTarget(unfurl_id=str(unfurl_id), source="composer") if unfurl_id else None
    channel, ts = event.get("channel"), event.get("message_ts")
    return UnfurlTarget(channel=str(channel), ts=str(ts)) if channel and ts else None
