"""The card's More details and Follow-ups buttons, and Load more inside the timeline.

A click is acked at once; a background task opens the modal with a loading view (``views.open`` must
use the click's ``trigger_id`` within 3 s, before any CRM read), then ``views.update`` fills it. Every
click is admitted by the gate for the person who clicked (access rules, per-person budget).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.cache.clues import Lookup
from bot.domain.ids import parse_clue_id
from bot.errors import BotError, InvalidClueId, SlackCallFailed
from bot.slack import cards, modals
from bot.slack.features import Ack, FeatureDeps
from bot.slack.features.card_request import PendingCard
from bot.slack.gate import LOOKUP, Refusal
from bot.slack.inbound import Inbound
from bot.slack.notices import error_notice, refusal_notice

log = logging.getLogger(__name__)
Fill = Callable[["PendingCard", "ModalClick", str], Awaitable[dict[str, Any]]]
"""What fills an opened modal: its view from the card's reads."""


@dataclass(frozen=True, slots=True)
class ModalClick:
    """A click that opens or pages a modal; the value is untrusted and re-parsed."""

    clue_id: int
    pages: int  # Load more: how many pages to show
    who: Inbound
    trigger_id: str | None
    view_id: str | None  # a click inside a modal: the view to update
    view_hash: str | None

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> ModalClick | None:
        actions = body.get("actions")
        if not isinstance(actions, list) or not actions or not isinstance(actions[0], Mapping):
            return None
        value = str(actions[0].get("value") or "")
        clue_text, _, pages_text = value.partition(":")
        try:
            clue_id = parse_clue_id(clue_text)
        except InvalidClueId:
            log.info("action.value.invalid")
            return None
        pages = int(pages_text) if pages_text.isdigit() else 1
        who = Inbound.from_action(body)
        view = body.get("view") if isinstance(body.get("view"), Mapping) else None
        if view is not None and who.channel_id is None:
            # Inside a modal: the card's conversation travels in private_metadata, which we wrote.
            who = who._replace(channel_id=_metadata_channel(view.get("private_metadata")))
        trigger = body.get("trigger_id")
        return cls(clue_id=clue_id, pages=max(1, min(pages, modals.MAX_PAGES)), who=who,
                   trigger_id=trigger if isinstance(trigger, str) else None,
                   view_id=_s(view.get("id")) if view else None, view_hash=_s(view.get("hash")) if view else None)


class ClueModals:
    def __init__(self, deps: FeatureDeps) -> None:
        self._deps = deps
        self._gate = deps.gate
        self._cards = deps.cards

    def register(self, app: AsyncApp) -> None:
        """The card's More details and Follow-ups buttons, and Load more inside the timeline."""
        app.action(cards.ACTION_DETAILS)(self.on_details)
        app.action(cards.ACTION_FOLLOW_UPS)(self.on_follow_ups)
        app.action(modals.ACTION_LOAD_MORE)(self.on_load_more)

    async def on_details(self, ack: Ack, body: Mapping[str, Any], client: AsyncWebClient) -> None:
        await self._open_from_click(ack, body, client, modals.VIEW_DETAILS, self._details, "clue.details")

    async def on_follow_ups(self, ack: Ack, body: Mapping[str, Any], client: AsyncWebClient) -> None:
        await self._open_from_click(ack, body, client, modals.VIEW_FOLLOW_UPS, self._timeline, "clue.follow_ups")

    async def _open_from_click(self, ack: Ack, body: Mapping[str, Any], client: AsyncWebClient, callback_id: str,
                               fill: Fill, name: str) -> None:
        """Ack a card button at once; open its modal from a task (views.open needs the click's trigger_id)."""
        await ack()
        click = ModalClick.parse(body)
        if click is not None and click.trigger_id:
            self._deps.runner.spawn(self._open(click, client, callback_id, fill), name=name)

    async def on_load_more(self, ack: Ack, body: Mapping[str, Any], client: AsyncWebClient) -> None:
        await ack()
        click = ModalClick.parse(body)
        if click is not None and click.view_id:
            self._deps.runner.spawn(self._more(click, client), name="clue.follow_ups.more")

    async def _start(self, click: ModalClick, timeline: bool) -> PendingCard | Refusal:
        """The card's reads for a modal (the clue; for the timeline, its first page too), started at once."""
        # A modal has no Share button: the conversation is not asked.
        admitted, placing = await self._cards.admit(click.who, LOOKUP, place=False)
        if isinstance(admitted, Refusal):
            return admitted
        return self._cards.start(admitted, placing, click.clue_id, follow_ups=timeline, owner=False)

    async def _open(self, click: ModalClick, client: AsyncWebClient, callback_id: str, fill: Fill) -> None:
        locale = self._gate.locales.get(click.who.user_id)
        pending = await self._start(click, timeline=callback_id == modals.VIEW_FOLLOW_UPS)
        if isinstance(pending, Refusal):
            text = refusal_notice(pending, locale)["text"]
            await client.views_open(trigger_id=click.trigger_id,
                                    view=modals.notice_view(locale, callback_id, click.clue_id, text,
                                                            click.who.channel_id))
            return
        # The modal's view is read from the CRM while Slack opens the loading view.
        filled = asyncio.ensure_future(fill(pending, click, locale))
        loading = modals.loading_view(locale, callback_id, click.clue_id, click.who.channel_id)
        try:
            opened = await client.views_open(trigger_id=click.trigger_id, view=loading)
        except SlackCallFailed:
            filled.cancel()  # no view to fill
            raise
        view = opened.get("view")
        view_id = _s(view.get("id")) if isinstance(view, Mapping) else None
        if view_id is None:
            filled.cancel()
            return
        await client.views_update(view_id=view_id, view=await filled)

    @staticmethod
    async def _lookup(pending: PendingCard, click: ModalClick, locale: str, view: str) -> Lookup | dict[str, Any]:
        """The clue behind the modal, or the view that says why there is none."""
        try:
            return await pending.clue()
        except BotError as exc:
            pending.cancel()
            text = error_notice(exc, click.clue_id, locale)["text"]
            return modals.notice_view(locale, view, click.clue_id, text, click.who.channel_id)

    async def _details(self, pending: PendingCard, click: ModalClick, locale: str) -> dict[str, Any]:
        lookup = await self._lookup(pending, click, locale, modals.VIEW_DETAILS)
        if isinstance(lookup, dict):
            return lookup  # the view saying why there is no clue
        # Others may be looking over the reader's shoulder: phones stay masked here, as on the card.
        opts = self._deps.renderer.options(lookup, locale, click.who)
        return modals.details_view(lookup.value, opts, click.who.channel_id)

    async def _timeline(self, pending: PendingCard, click: ModalClick, locale: str) -> dict[str, Any]:
        lookup = await self._lookup(pending, click, locale, modals.VIEW_FOLLOW_UPS)
        if isinstance(lookup, dict):
            return lookup  # the view saying why there is no clue
        first = await pending.follow_ups(None)  # the timeline is the point: as long as the CRM takes
        pages = [first.value] if first else []
        failed = first is None
        stale_since = first.fetched_at if first and first.stale else None  # the oldest page served cached
        cursor = first.value.next_cursor if first else None
        # Later pages come from the cache: Load more re-walks the cursors up to the page asked for.
        while cursor is not None and len(pages) < click.pages:
            try:
                timed = await pending.admitted.follow_ups(click.clue_id, cursor)
            except BotError as exc:
                log.warning("clue.follow_ups.failed", extra={"clue_id": click.clue_id, "error": type(exc).__name__})
                failed = True
                break
            if timed.stale:
                stale_since = min(stale_since or timed.fetched_at, timed.fetched_at)
            pages.append(timed.value)
            cursor = timed.value.next_cursor
        return modals.follow_ups_view(lookup.value, pages, locale, failed=failed, channel=click.who.channel_id,
                                      stale_since=datetime.fromtimestamp(stale_since, UTC) if stale_since else None)

    async def _more(self, click: ModalClick, client: AsyncWebClient) -> None:
        locale = self._gate.locales.get(click.who.user_id)
        pending = await self._start(click, timeline=True)
        if isinstance(pending, Refusal):
            text = refusal_notice(pending, locale)["text"]
            view = modals.notice_view(locale, modals.VIEW_FOLLOW_UPS, click.clue_id, text, click.who.channel_id)
        else:
            view = await self._timeline(pending, click, locale)
        await client.views_update(view_id=click.view_id, hash=click.view_hash, view=view)


def _metadata_channel(metadata: Any) -> str | None:
    try:
        decoded = json.loads(metadata) if isinstance(metadata, str) else None
    except ValueError:
        return None
    return _s(decoded.get("channel")) if isinstance(decoded, Mapping) else None


def _s(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
