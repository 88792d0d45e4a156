"""Card buttons: Refresh, Share to channel, Reveal phone and Open in CRM; Show on a search result.

Every click is acked at once and handled in a background task. The clue id in a button's value is
untrusted and re-parsed, and the rules are checked again for the person who clicked.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.cache.clues import Lookup
from bot.cache.timed import Timed
from bot.domain.follow_ups import FollowUpPage
from bot.domain.ids import parse_clue_id
from bot.errors import BotError, InvalidClueId
from bot.runtime.logs import AUDIT_LOGGER
from bot.slack import cards, search_cards
from bot.slack.features import Ack, FeatureDeps, Respond, follow_ups_within, start_follow_ups
from bot.slack.features.unfurls import UnfurlTarget, chat_unfurl
from bot.slack.gate import LOOKUP, SHARE, UNFURL, Pass, Refusal
from bot.slack.inbound import Inbound
from bot.slack.notices import error_notice, log_failure, refusal_notice

log = logging.getLogger(__name__)
LISTENERS = {
    cards.ACTION_REFRESH: "on_refresh",
    cards.ACTION_SHARE: "on_share",
    cards.ACTION_REVEAL: "on_reveal",
    cards.ACTION_OPEN: "on_open",
    search_cards.ACTION_SHOW: "on_show",
}
audit = logging.getLogger(AUDIT_LOGGER)


@dataclass(frozen=True, slots=True)
class ButtonClick:
    """A button click, validated: the clue id from the value is untrusted and re-parsed."""

    clue_id: int
    who: Inbound
    ephemeral: bool
    message_ts: str | None
    unfurl_url: str | None
    shared_by: str | None = None  # who shared the card (Refresh keeps "Shared by"); a re-validated user id

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> ButtonClick | None:
        actions = body.get("actions")
        if not isinstance(actions, list) or not actions or not isinstance(actions[0], Mapping):
            return None
        value = cards.split_button_value(str(actions[0].get("value") or ""))
        clue_id = _clue_id(value[0]) if value is not None else None
        if value is None or clue_id is None:
            log.info("action.value.invalid")
            return None
        container = body.get("container")
        if not isinstance(container, Mapping):
            container = {}
        unfurl_url = None
        if container.get("is_app_unfurl"):
            raw = container.get("app_unfurl_url")
            unfurl_url = raw if isinstance(raw, str) else ""  # matches no link: Refresh ignores it
        return cls(
            clue_id=clue_id,
            who=Inbound.from_action(body),
            ephemeral=bool(container.get("is_ephemeral")),
            message_ts=str(container.get("message_ts") or "") or None,
            unfurl_url=unfurl_url,
            shared_by=value[1],
        )


def _clue_id(text: str) -> int | None:
    try:
        return parse_clue_id(text)
    except InvalidClueId:
        return None


class CardActions:
    def __init__(self, deps: FeatureDeps) -> None:
        self._deps = deps
        self._gate = deps.gate
        self._renderer = deps.renderer

    def listeners(self) -> dict[str, Callable[..., Awaitable[None]]]:
        """Action id -> listener, for every button the cards carry."""
        return {action_id: getattr(self, name) for action_id, name in LISTENERS.items()}

    async def on_refresh(self, ack: Ack, body: Mapping[str, Any], respond: Respond,
                         client: AsyncWebClient) -> None:
        await ack()
        click = ButtonClick.parse(body)
        if click is None:
            return
        # The payload names the preview to replace: only a link to this very clue may become a chat.unfurl key.
        if click.unfurl_url is not None and self._deps.matcher.match(click.unfurl_url) != click.clue_id:
            log.info("action.unfurl_url.invalid", extra={"user": click.who.user_id, "clue_id": click.clue_id})
            return
        respond = self._deps.calls.checked(respond)
        self._deps.runner.spawn(self._refresh(click, respond, client), name="clue.refresh")

    async def _refresh(self, click: ButtonClick, respond: Respond, client: AsyncWebClient) -> None:
        # Cards others see speak the workspace default; a private card, its reader's language.
        private = click.ephemeral and click.unfurl_url is None
        locale = self._gate.locales.get(click.who.user_id) if private else self._deps.options.default_locale
        found = await self._lookup(click, respond, UNFURL if click.unfurl_url else LOOKUP, refresh=True)
        if found is None:
            return
        lookup, admitted = found
        if click.unfurl_url is not None:
            # Unfurls have no response_url to replace: re-running chat.unfurl updates them in place.
            if click.who.channel_id and click.message_ts:
                target = UnfurlTarget(channel=click.who.channel_id, ts=click.message_ts)
                await chat_unfurl(client, target, {click.unfurl_url: self._renderer.unfurl(lookup, locale)},
                                  self._deps.calls, [self._renderer.entity_unfurl(lookup, locale, click.unfurl_url)])
            return
        message = await self._card(admitted, lookup, locale, await self._placed(click), refresh=True,
                                   channel=not click.ephemeral,
                                   shared_by=None if click.ephemeral else click.shared_by)
        await respond(replace_original=True, **message)

    async def on_share(self, ack: Ack, body: Mapping[str, Any], respond: Respond) -> None:
        await self._in_background(ack, body, respond, self._share, "clue.share")

    async def _share(self, click: ButtonClick, respond: Respond) -> None:
        found = await self._lookup(click, respond, SHARE)
        if found is None:
            return
        lookup, admitted = found
        message = await self._card(admitted, lookup, self._deps.options.default_locale, click.who, channel=True,
                                   shared_by=click.who.user_id)
        await respond(response_type="in_channel", replace_original=False, **message)
        await respond(delete_original=True)

    async def on_reveal(self, ack: Ack, body: Mapping[str, Any], respond: Respond) -> None:
        # A phone is only ever revealed on the clicking user's own ephemeral card.
        await self._in_background(ack, body, respond, self._reveal, "clue.reveal", ephemeral_only=True)

    async def _reveal(self, click: ButtonClick, respond: Respond) -> None:
        locale = self._gate.locales.get(click.who.user_id)
        found = await self._lookup(click, respond, LOOKUP)
        if found is None:
            return
        lookup, admitted = found
        who = await self._placed(click)
        audit.info("audit.phone.revealed", extra={
            "user": who.user_id, "team": who.team_id, "channel": who.channel_id, "clue_id": click.clue_id,
            "at": datetime.fromtimestamp(self._deps.wall(), UTC).isoformat()})
        await respond(replace_original=True, response_type="ephemeral",
                      **await self._card(admitted, lookup, locale, who, reveal_phone=True))

    async def _card(self, admitted: Pass, lookup: Lookup, locale: str, who: Inbound, *, refresh: bool = False,
                    **options: Any) -> dict[str, Any]:
        """The card for a click, with its latest follow-up (under the click's admission, bounded by the wait;
        ``refresh``: read again from the CRM, like the clue)."""
        clue_id = lookup.value.id
        follow_ups: Timed[FollowUpPage] | None = await follow_ups_within(
            start_follow_ups(admitted, clue_id, refresh=refresh), clue_id, self._deps.options.follow_up_wait)
        if follow_ups is None and refresh:
            follow_ups = admitted.cached_follow_ups(clue_id)  # a late re-read: what was known still holds
        return self._renderer.card(lookup, locale, who, follow_ups=follow_ups,
                                   follow_ups_missing=follow_ups is None, **options).message

    async def _placed(self, click: ButtonClick) -> Inbound:
        """The clicker, with whether the conversation is shared known if Slack says so in time (Share button)."""
        return await self._gate.place(click.who, within=self._deps.options.ack_budget)

    async def on_show(self, ack: Ack, body: Mapping[str, Any], respond: Respond) -> None:
        """Show on a search result: the full card as a new ephemeral message, the pick list kept."""
        await self._in_background(ack, body, respond, self._show, "clue.search.show")

    async def _in_background(self, ack: Ack, body: Mapping[str, Any], respond: Respond,
                             work: Callable[[ButtonClick, Respond], Coroutine[Any, Any, None]], name: str, *,
                             ephemeral_only: bool = False) -> None:
        """Ack the click at once; ``work`` runs in the background with a ``respond`` whose refusals are logged.
        A click whose payload does not parse (or, ``ephemeral_only``, not on an ephemeral card) does nothing."""
        await ack()
        click = ButtonClick.parse(body)
        if click is None or (ephemeral_only and not click.ephemeral):
            return
        self._deps.runner.spawn(work(click, self._deps.calls.checked(respond)), name=name)

    async def _show(self, click: ButtonClick, respond: Respond) -> None:
        locale = self._gate.locales.get(click.who.user_id)
        found = await self._lookup(click, respond, LOOKUP)
        if found is None:
            return
        lookup, admitted = found
        await respond(replace_original=False, response_type="ephemeral",
                      **await self._card(admitted, lookup, locale, await self._placed(click)))

    async def on_open(self, ack: Ack) -> None:
        await ack()  # a URL button still sends an action; Slack only needs the ack

    async def _lookup(self, click: ButtonClick, respond: Respond, rule: str, *,
                      refresh: bool = False) -> tuple[Lookup, Pass] | None:
        """The clue behind a button and the click's admission, or None after telling the clicker why not
        (ephemerally, in their own language). Clicks on unfurls carry a response_url too (Slack's
        unfurling guide): their clicker hears of a refusal or a CRM failure like anyone else's."""
        notify = click.who.response_url is not None
        locale = self._gate.locales.get(click.who.user_id)
        admitted = await self._gate.admit_in_conversation(click.who, rule) if rule in (SHARE, UNFURL) \
            else self._gate.admit(click.who, rule)
        if isinstance(admitted, Refusal):
            if notify:
                await respond(replace_original=False, response_type="ephemeral",
                              **refusal_notice(admitted, locale))
            return None
        try:
            return await admitted.get(click.clue_id, refresh=refresh), admitted
        except BotError as exc:
            if notify:
                await respond(replace_original=False, response_type="ephemeral",
                              **error_notice(exc, click.clue_id, locale))
            else:
                log_failure(exc, click.clue_id)
            return None
