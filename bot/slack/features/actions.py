"""Card buttons: Refresh, Share to channel, Reveal phone, Watch and Open in CRM; Show on a search result.

Every click is acked at once and handled in a background task. The clue id in a button's value is
untrusted and re-parsed, and the rules are checked again for the person who clicked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.ids import parse_clue_id
from bot.errors import BotError, InvalidClueId
from bot.runtime.logs import AUDIT_LOGGER
from bot.slack import cards, search_cards
from bot.slack.features import Ack, FeatureDeps, Respond
from bot.slack.features.alerts import AlertCommands
from bot.slack.features.card_request import Card
from bot.slack.features.unfurls import UnfurlTarget, chat_unfurl
from bot.slack.gate import AUDIENCE_RULES, LOOKUP, SHARE, UNFURL, Refusal
from bot.slack.inbound import Inbound
from bot.slack.notices import error_notice, log_failure, refusal_notice

log = logging.getLogger(__name__)
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
    trigger_id: str | None = None

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> ButtonClick | None:
        actions = body.get("actions")
        if not isinstance(actions, list) or not actions or not isinstance(actions[0], Mapping):
            return None
        choice = cards.action_choice(actions[0])
        value = cards.split_button_value(choice[1]) if choice is not None else None
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
            trigger_id=trigger if isinstance(trigger := body.get("trigger_id"), str) and trigger else None,
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
        self._cards = deps.cards
        self._alerts = AlertCommands(deps)

    def register(self, app: AsyncApp) -> None:
        """Every button the cards (and a search's results) carry."""
        app.action(cards.ACTION_REFRESH)(self.on_refresh)
        app.action(cards.ACTION_SHARE)(self.on_share)
        app.action(cards.ACTION_REVEAL)(self.on_reveal)
        app.action(cards.ACTION_OPEN)(self.on_open)
        app.action(cards.ACTION_WATCH)(self.on_watch)
        app.action(cards.ACTION_MORE)(self.on_more)
        app.action(search_cards.ACTION_SHOW)(self.on_show)

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
        # A private card speaks its reader's language, a shared card its sharer's (kept in its buttons), a
        # preview the workspace default.
        private = click.ephemeral and click.unfurl_url is None
        speaker = click.who.user_id if private else None if click.unfurl_url is not None else click.shared_by
        locale = self._gate.locales.get(speaker)  # None: the default
        if click.unfurl_url is not None:
            # Unfurls have no response_url to replace: re-running chat.unfurl updates them in place.
            card = await self._card(click, respond, UNFURL, refresh=True, follow_ups=False)
            if card is not None and click.who.channel_id and click.message_ts:
                target = UnfurlTarget(channel=click.who.channel_id, ts=click.message_ts)
                await chat_unfurl(client, target,
                                  {click.unfurl_url: self._renderer.unfurl(card.lookup, locale, card.owner)},
                                  self._deps.calls,
                                  [self._renderer.entity_unfurl(card.lookup, locale, click.unfurl_url, card.owner)])
            return
        card = await self._card(click, respond, LOOKUP, refresh=True)
        if card is None:
            return
        if click.who.response_url is None:
            # A Work Object button outside a preview (the flexpane): no message to replace, but the click's
            # trigger re-presents the pane with what was just read (phones masked: the place is unknown).
            if click.trigger_id is not None:
                details = self._renderer.entity_details(card.lookup, self._gate.locales.get(click.who.user_id),
                                                        reveal_phone=False, owner=card.owner)
                await client.entity_presentDetails(trigger_id=click.trigger_id, metadata=details)
            return
        message = card.render(self._renderer, locale, channel=not click.ephemeral,
                              shared_by=None if click.ephemeral else click.shared_by).message
        await respond(replace_original=True, **message)

    async def on_share(self, ack: Ack, body: Mapping[str, Any], respond: Respond) -> None:
        await self._in_background(ack, body, respond, self._share, "clue.share")

    async def _share(self, click: ButtonClick, respond: Respond) -> None:
        card = await self._card(click, respond, SHARE)
        if card is None:
            return
        # The card speaks the sharer's language: they chose to post it, and they read it as they shared it.
        message = card.render(self._renderer, self._gate.locales.get(click.who.user_id), channel=True,
                              shared_by=click.who.user_id).message
        await respond(response_type="in_channel", replace_original=False, **message)
        await respond(delete_original=True)

    async def on_reveal(self, ack: Ack, body: Mapping[str, Any], respond: Respond) -> None:
        # A phone is only ever revealed on the clicking user's own ephemeral card.
        await self._in_background(ack, body, respond, self._reveal, "clue.reveal", ephemeral_only=True)

    async def _reveal(self, click: ButtonClick, respond: Respond) -> None:
        locale = self._gate.locales.get(click.who.user_id)
        card = await self._card(click, respond, LOOKUP)
        if card is None:
            return
        who = card.who
        audit.info("audit.phone.revealed", extra={
            "user": who.user_id, "team": who.team_id, "channel": who.channel_id, "clue_id": click.clue_id,
            "at": datetime.fromtimestamp(self._deps.wall(), UTC).isoformat()})
        await respond(replace_original=True, response_type="ephemeral",
                      **card.render(self._renderer, locale, reveal_phone=True).message)

    async def on_watch(self, ack: Ack, body: Mapping[str, Any], respond: Respond) -> None:
        """Watch on an alert or a shared card: the clue's changes reply in this message's thread."""
        await self._in_background(ack, body, respond, self._watch, "clue.watch")

    async def _watch(self, click: ButtonClick, respond: Respond) -> None:
        locale = self._gate.locales.get(click.who.user_id)
        # An ephemeral message is no thread anyone else can see: the watch then threads as a command's does.
        thread = None if click.ephemeral else click.message_ts
        answer = await self._alerts.watch(click.who, click.clue_id, thread, locale)
        await respond(replace_original=False, response_type="ephemeral", **answer)

    async def on_show(self, ack: Ack, body: Mapping[str, Any], respond: Respond) -> None:
        """Show on a search result: the full card as a new ephemeral message, the pick list kept."""
        await self._in_background(ack, body, respond, self._show, "clue.search.show")

    async def _show(self, click: ButtonClick, respond: Respond) -> None:
        locale = self._gate.locales.get(click.who.user_id)
        card = await self._card(click, respond, LOOKUP)
        if card is not None:
            await respond(replace_original=False, response_type="ephemeral",
                          **card.render(self._renderer, locale).message)

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

    async def on_more(self, ack: Ack, body: Mapping[str, Any], respond: Respond, client: AsyncWebClient) -> None:
        """The card's overflow menu: Refresh, Share, Reveal or Watch, as the chosen option's value says."""
        actions = body.get("actions")
        action = actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], Mapping) else {}
        choice = cards.action_choice(action)
        chosen = choice[0] if choice is not None else None
        if chosen == cards.ACTION_REFRESH:
            await self.on_refresh(ack, body, respond, client)
        elif chosen == cards.ACTION_SHARE:
            await self.on_share(ack, body, respond)
        elif chosen == cards.ACTION_REVEAL:
            await self.on_reveal(ack, body, respond)
        elif chosen == cards.ACTION_WATCH:
            await self.on_watch(ack, body, respond)
        else:
            await ack()
            log.info("action.value.invalid")

    async def on_open(self, ack: Ack) -> None:
        await ack()  # a URL button still sends an action; Slack only needs the ack

    async def _card(self, click: ButtonClick, respond: Respond, rule: str, *, refresh: bool = False,
                    follow_ups: bool = True) -> Card | None:
        """The card behind a button, its reads started together under the click's admission, or None after
        telling the clicker why not (ephemerally, in their own language). Clicks on unfurls carry a
        response_url too (Slack's unfurling guide): their clicker hears of a refusal or a CRM failure like
        anyone else's. A private card waits for the conversation (its Share button) at most the ack budget;
        a card the conversation sees, until Slack says who is in it."""
        notify = click.who.response_url is not None
        locale = self._gate.locales.get(click.who.user_id)
        within = None if rule in AUDIENCE_RULES else self._deps.options.ack_budget
        try:
            card = await self._cards.card(click.who, click.clue_id, rule, within=within, refresh=refresh,
                                          follow_ups=follow_ups)
        except BotError as exc:
            if notify:
                await respond(replace_original=False, response_type="ephemeral",
                              **error_notice(exc, click.clue_id, locale))
            else:
                log_failure(exc, click.clue_id)
            return None
        if isinstance(card, Refusal):
            if notify:
                await respond(replace_original=False, response_type="ephemeral", **refusal_notice(card, locale))
            return None
        return card
