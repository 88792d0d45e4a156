"""The card's More details and Follow-ups buttons, and Load more inside the timeline.

A click is acked at once; a background task opens the modal with a loading view (``views.open`` must
use the click's ``trigger_id`` within 3 s, before any CRM read), then ``views.update`` fills it. Every
click is admitted by the gate for the person who clicked (access rules, per-person budget).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.cache.clues import Lookup
from bot.cache.timed import Timed
from bot.domain.follow_ups import FollowUpPage
from bot.domain.ids import parse_clue_id
from bot.errors import BotError, InvalidClueId
from bot.slack import cards, modals
from bot.slack.features import Ack, FeatureDeps
from bot.slack.gate import LOOKUP, Pass, Refusal
from bot.slack.inbound import Inbound
from bot.slack.notices import error_notice, refusal_notice

log = logging.getLogger(__name__)
CARD_BUTTONS = {cards.ACTION_DETAILS: "on_details", cards.ACTION_FOLLOW_UPS: "on_follow_ups"}
LISTENERS = {**CARD_BUTTONS, modals.ACTION_LOAD_MORE: "on_load_more"}


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

    def listeners(self) -> dict[str, Callable[..., Awaitable[None]]]:
        return {action_id: getattr(self, name) for action_id, name in LISTENERS.items()}

    async def on_details(self, ack: Ack, body: Mapping[str, Any], client: AsyncWebClient) -> None:
        await self._open_from_click(ack, body, client, modals.VIEW_DETAILS, self._details, "clue.details")

    async def on_follow_ups(self, ack: Ack, body: Mapping[str, Any], client: AsyncWebClient) -> None:
        await self._open_from_click(ack, body, client, modals.VIEW_FOLLOW_UPS, self._timeline, "clue.follow_ups")

    async def _open_from_click(self, ack: Ack, body: Mapping[str, Any], client: AsyncWebClient, callback_id: str,
                               fill: Callable[[Pass, ModalClick, str], Awaitable[dict[str, Any]]], name: str) -> None:
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

    async def _open(self, click: ModalClick, client: AsyncWebClient, callback_id: str,
                    fill: Callable[[Pass, ModalClick, str], Awaitable[dict[str, Any]]]) -> None:
        locale = self._gate.locales.get(click.who.user_id)
        admitted = self._gate.admit(click.who, LOOKUP)
        if isinstance(admitted, Refusal):
            text = refusal_notice(admitted, locale)["text"]
            await _call(client.views_open, trigger_id=click.trigger_id,
                        view=modals.notice_view(locale, callback_id, click.clue_id, text, click.who.channel_id))
            return
        loading = modals.loading_view(locale, callback_id, click.clue_id, click.who.channel_id)
        opened = await _call(client.views_open, trigger_id=click.trigger_id, view=loading)
        view_id = _s(opened.get("view", {}).get("id")) if opened else None
        if view_id is None:
            return
        await _call(client.views_update, view_id=view_id, view=await fill(admitted, click, locale))

    @staticmethod
    async def _lookup(admitted: Pass, click: ModalClick, locale: str, view: str) -> Lookup | dict[str, Any]:
        """The clue behind the modal, or the view that says why there is none."""
        try:
            return await admitted.get(click.clue_id)
        except BotError as exc:
            text = error_notice(exc, click.clue_id, locale)["text"]
            return modals.notice_view(locale, view, click.clue_id, text, click.who.channel_id)

    async def _details(self, admitted: Pass, click: ModalClick, locale: str) -> dict[str, Any]:
        lookup = await self._lookup(admitted, click, locale, modals.VIEW_DETAILS)
        if not isinstance(lookup, Timed):
            return lookup
        # Others may be looking over the reader's shoulder: phones stay masked here, as on the card.
        opts = self._deps.renderer.options(lookup, locale, click.who)
        return modals.details_view(lookup.value, opts, click.who.channel_id)

    async def _timeline(self, admitted: Pass, click: ModalClick, locale: str) -> dict[str, Any]:
        lookup = await self._lookup(admitted, click, locale, modals.VIEW_FOLLOW_UPS)
        if not isinstance(lookup, Timed):
            return lookup
        pages: list[FollowUpPage] = []
        cursor: str | None = None
        failed = False
        # Earlier pages come from the cache: Load more re-walks the cursors up to the page asked for.
        for _ in range(click.pages):
            try:
                page = (await admitted.follow_ups(click.clue_id, cursor)).value
            except BotError as exc:
                log.warning("clue.follow_ups.failed", extra={"clue_id": click.clue_id, "error": type(exc).__name__})
                failed = True
                break
            pages.append(page)
            cursor = page.next_cursor
            if cursor is None:
                break
        return modals.follow_ups_view(lookup.value, pages, locale, failed=failed, channel=click.who.channel_id)

    async def _more(self, click: ModalClick, client: AsyncWebClient) -> None:
        locale = self._gate.locales.get(click.who.user_id)
        admitted = self._gate.admit(click.who, LOOKUP)
        if isinstance(admitted, Refusal):
            text = refusal_notice(admitted, locale)["text"]
            view = modals.notice_view(locale, modals.VIEW_FOLLOW_UPS, click.clue_id, text, click.who.channel_id)
        else:
            view = await self._timeline(admitted, click, locale)
        await _call(client.views_update, view_id=click.view_id, hash=click.view_hash, view=view)


async def _call(method: Callable[..., Awaitable[Any]], **kwargs: Any) -> Mapping[str, Any] | None:
    """A views.* call; Slack's refusal (expired trigger, stale hash) is logged, not raised."""
    try:
        response = await method(**kwargs)
    except SlackApiError as exc:
        log.warning("slack.view.failed", extra={"error": str(exc.response.get("error"))})
        return None
    data = getattr(response, "data", None)
    return data if isinstance(data, Mapping) else None


def _metadata_channel(metadata: Any) -> str | None:
    try:
        decoded = json.loads(metadata) if isinstance(metadata, str) else None
    except ValueError:
        return None
    return _s(decoded.get("channel")) if isinstance(decoded, Mapping) else None


def _s(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
