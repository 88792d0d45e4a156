"""Search by name or phone: ``/clue 张三``, Next / Previous, and the Find a clue type-ahead modal.

Every search passes the gate under ``SEARCH`` (the allow lists, no Slack Connect channels nor unknown ones
unless allowed, a per-person search budget of its own); an answer the search cache already holds costs no
budget. Results are only ever ephemeral or in the person's own modal, at most ``MAX_RESULT_PAGES`` pages.
Every phone search is an ``audit.phone.searched`` line. The search text is never logged: log lines carry
its fingerprint (length and a keyed hash).

The modal: the shortcut (or the help's Find button) acks at once and opens the modal from a task,
well inside the trigger's 3 seconds. ``block_suggestion`` answers from the search cache, or waits for
the CRM up to the ack budget (Slack gives up after 3 s; a search that finishes later fills the cache
for the next keystroke). Picking an option replaces the modal's content below the select with the
clue's card (``views.update``): the card stays with the one person who asked. Its buttons are the ones a
modal can offer (the card's others answer through a message's ``response_url``, which a modal has not):
Open in CRM, a link; and Show in chat, which posts the full card, ephemeral, to the person in the
conversation the modal was opened from (``private_metadata``), admitted there like ``/clue <id>``. A
modal opened from the search bar knows no conversation: the card says so, and how to show it in one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.cache.timed import Timed
from bot.domain.ids import parse_clue_id
from bot.domain.search import (
    MAX_RESULT_PAGES,
    PHONE,
    QueryRefused,
    SearchHit,
    SearchPage,
    SearchQuery,
    normalise_query,
)
from bot.errors import BotError, InvalidClueId, SlackCallFailed
from bot.runtime.logs import AUDIT_LOGGER
from bot.slack import cards, search_cards
from bot.slack.features import Ack, FeatureDeps, Message, Respond
from bot.slack.gate import LOOKUP, SEARCH, Pass, Refusal
from bot.slack.i18n import t
from bot.slack.inbound import Inbound
from bot.slack.notices import error_key, error_notice, refusal_notice

log = logging.getLogger(__name__)
audit = logging.getLogger(AUDIT_LOGGER)


class ClueSearch:
    def __init__(self, deps: FeatureDeps) -> None:
        self._deps = deps
        self._gate = deps.gate
        self._cards = deps.cards

    def register(self, app: AsyncApp) -> None:
        """Next / Previous, the Find a clue shortcut and button, its type-ahead and its pick (``/clue <text>``
        comes through ``ClueCommand``)."""
        app.action(search_cards.ACTION_PREVIOUS)(self.on_page)
        app.action(search_cards.ACTION_NEXT)(self.on_page)
        app.action(search_cards.ACTION_FIND)(self.on_find_button)
        app.action(search_cards.ACTION_PICK)(self.on_pick)
        app.action(search_cards.ACTION_SHOW_IN_CHAT)(self.on_show_in_chat)
        app.options(search_cards.ACTION_PICK)(self.on_suggestion)
        app.shortcut(search_cards.SHORTCUT_FIND)(self.on_shortcut)

    # ------------------------------------------------------------------ /clue <text>

    def command(self, who: Inbound, text: str, locale: str) -> Message | asyncio.Future[Message]:
        """The answer to ``/clue <text>``: at once (a refusal, a cached page) or as a future."""
        try:
            query = normalise_query(text)
        except QueryRefused as refused:
            log.info("clue.search.refused", extra={"user": who.user_id, "reason": refused.reason,
                                                   "length": refused.length})
            return cards.notice_message(locale, "search_refused", why=refused.reason)
        admitted, hit = self._admit(who, query, 1)
        if isinstance(admitted, Refusal):
            return refusal_notice(admitted, locale)
        if hit is not None:
            return self._render(admitted, hit, locale)
        return asyncio.ensure_future(self._page(admitted, query, 1, locale))

    def _admit(self, who: Inbound, query: SearchQuery,
               page_no: int) -> tuple[Pass | Refusal, Timed[SearchPage] | None]:
        """The gate's answer for a search, and the page when the cache holds it: the rules are always
        checked, the person's search budget is only spent on a miss (a cached answer costs the CRM nothing)."""
        admitted = self._gate.admit(who, SEARCH, cost=0)
        if isinstance(admitted, Refusal):
            return admitted, None
        if query.kind == PHONE:  # a phone search is a lookup of a person's number: audited, cached or not
            audit.info("audit.phone.searched", extra={
                "user": who.user_id, "team": who.team_id, "channel": who.channel_id,
                "query": self._fingerprint(query), "page": page_no,
                "at": datetime.fromtimestamp(self._deps.wall(), UTC).isoformat()})
        hit = admitted.search_cached(query, page_no)
        return (admitted, hit) if hit is not None else (self._gate.admit(who, SEARCH), None)

    async def _page(self, admitted: Pass, query: SearchQuery, page_no: int, locale: str) -> Message:
        try:
            result = await admitted.search(query, page_no)
        except BotError as exc:
            log.warning("clue.search.failed", extra={"query": self._fingerprint(query), "page": page_no,
                                                      "error": type(exc).__name__, "detail": str(exc)})
            return cards.notice_message(locale, error_key(exc))
        return self._render(admitted, result, locale)

    def _render(self, admitted: Pass, result: Timed[SearchPage], locale: str) -> Message:
        page = result.value
        log.info("clue.search", extra={"user": admitted.who.user_id, "query": self._fingerprint(page.query),
                                       "kind": page.query.kind, "page": page.page_no,
                                       "hits": len(page.hits), "pages": page.total_pages,
                                       "stale": result.stale})
        if not page.hits and page.page_no > 1:
            shown = search_cards.shown_query(page.query.key, phone=page.query.kind == PHONE)
            return cards.notice_message(locale, "search_page_gone", query=shown, page=page.page_no)
        return search_cards.pick_list_message(self._results(admitted, result), locale)

    def _results(self, admitted: Pass, result: Timed[SearchPage]) -> search_cards.ResultsPage:
        page = result.value
        # Paging stops at MAX_RESULT_PAGES: past it, a narrower search, not a walk through the CRM.
        return search_cards.ResultsPage(
            query=page.query.key, page_no=page.page_no, total_pages=min(page.total_pages, MAX_RESULT_PAGES),
            rows=self._rows(admitted, page),
            fetched_at=datetime.fromtimestamp(result.fetched_at, UTC), stale=result.stale,
            phone=page.query.kind == PHONE)

    def _rows(self, admitted: Pass, page: SearchPage) -> tuple[SearchHit, ...]:
        rows = []
        for hit in page.hits[:search_cards.MAX_SEARCH_ROWS]:
            # A row carries name, phone and company when the tenant's fields have them: a cached clue fills in
            # what it lacks (never a CRM read per row).
            clue = admitted.peek(hit.clue_id)
            if clue is not None:
                hit = replace(hit, name=hit.name or clue.name, company=hit.company or clue.company,
                              phone=hit.phone or (clue.phones[0] if clue.phones else None))
            rows.append(hit)
        return tuple(rows)

    def _fingerprint(self, query: SearchQuery) -> str:
        return query.fingerprint(self._deps.options.query_key)

    # ------------------------------------------------------------------ Next / Previous

    async def on_page(self, ack: Ack, body: Mapping[str, Any], respond: Respond) -> None:
        await ack()
        who = Inbound.from_action(body)
        locale = self._gate.locales.get(who.user_id)
        wanted = _page_request(body)
        if wanted is None:
            log.info("action.value.invalid", extra={"action": "clue_search_page"})
            return
        self._deps.runner.spawn(self._turn_page(who, wanted, locale, respond), name="clue.search.page")

    async def _turn_page(self, who: Inbound, wanted: tuple[str, int], locale: str, respond: Respond) -> None:
        text, page_no = wanted
        try:
            query = normalise_query(text)
        except QueryRefused:
            return  # our own button never carries this: a forged value gets no answer
        # A click does not say whether the channel is shared with another organisation: ask (unknown refuses).
        who = await self._gate.place(who, within=self._deps.options.ack_budget)
        admitted, hit = self._admit(who, query, page_no)
        if isinstance(admitted, Refusal):
            await respond(replace_original=False, response_type="ephemeral", **refusal_notice(admitted, locale))
            return
        message = self._render(admitted, hit, locale) if hit else await self._page(admitted, query, page_no, locale)
        await respond(replace_original=True, response_type="ephemeral", **message)

    # ------------------------------------------------------------------ the Find a clue modal

    async def on_shortcut(self, ack: Ack, body: Mapping[str, Any], client: AsyncWebClient) -> None:
        await ack()
        self._open_modal(body, client)

    async def on_find_button(self, ack: Ack, body: Mapping[str, Any], client: AsyncWebClient) -> None:
        await ack()
        self._open_modal(body, client)

    def _open_modal(self, body: Mapping[str, Any], client: AsyncWebClient) -> None:
        trigger = body.get("trigger_id")
        if not isinstance(trigger, str) or not trigger:
            return
        # The modal is the person's own, in no conversation: its searches (block_suggestion) carry no channel,
        # so it is admitted as they will be. The conversation it came from is kept for Show in chat.
        clicked = Inbound.from_action(body)
        who = clicked._replace(channel_id=None)
        locale = self._gate.locales.get(who.user_id)
        admitted = self._gate.admit(who, SEARCH, cost=0)  # the rules now; each search spends later
        view = search_cards.find_modal(locale, channel=clicked.channel_id)
        if isinstance(admitted, Refusal):
            view["blocks"] = refusal_notice(admitted, locale)["blocks"]
        self._deps.runner.spawn(_sent(client.views_open(trigger_id=trigger, view=view)), name="clue.find.open")

    async def on_suggestion(self, ack: Ack, body: Mapping[str, Any]) -> None:
        """``block_suggestion``: options from the search cache, or from the CRM within the ack budget."""
        who = Inbound.from_action(body)
        try:
            query = normalise_query(str(body.get("value") or ""))
        except QueryRefused:
            await ack(options=[])
            return
        locale = self._gate.locales.get(who.user_id)
        admitted, hit = self._admit(who, query, 1)
        if isinstance(admitted, Refusal):
            await ack(options=[])
            return
        if hit is None:
            work = asyncio.ensure_future(admitted.search(query))
            done, _ = await asyncio.wait({work}, timeout=self._deps.options.ack_budget)
            if not done or work.exception() is not None:
                if done:
                    log.warning("clue.search.failed", extra={"query": self._fingerprint(query), "page": 1,
                                                              "error": type(work.exception()).__name__})
                else:
                    self._deps.runner.spawn(_quietly(work), name="clue.find.late")
                await ack(**search_cards.unavailable_options(locale))  # not "no results": the CRM did not say
                return
            hit = work.result()
        await ack(**search_cards.options(self._rows(admitted, hit.value), locale))

    async def on_pick(self, ack: Ack, body: Mapping[str, Any], client: AsyncWebClient) -> None:
        await ack()
        view = body.get("view")
        actions = body.get("actions")
        if not isinstance(view, Mapping) or not isinstance(actions, list) or not actions:
            return
        selected = actions[0].get("selected_option") if isinstance(actions[0], Mapping) else None
        if not isinstance(selected, Mapping) or selected.get("value") == search_cards.OPTION_UNAVAILABLE:
            return  # nothing picked, or the "CRM is slow or down" option: nothing to show
        try:
            clue_id = parse_clue_id(str(selected.get("value")))
        except InvalidClueId:
            log.info("action.value.invalid", extra={"action": search_cards.ACTION_PICK})
            return
        who = Inbound.from_action(body)
        self._deps.runner.spawn(self._show_in_modal(who, clue_id, selected, view, client), name="clue.find.pick")

    async def _show_in_modal(self, who: Inbound, clue_id: int, selected: Mapping[str, Any], view: Mapping[str, Any],
                             client: AsyncWebClient) -> None:
        locale = self._gate.locales.get(who.user_id)
        channel = search_cards.modal_channel(view)
        try:
            # The card in the modal has no Share button: the conversation is not asked.
            card = await self._cards.card(who, clue_id, LOOKUP, place=False)
        except BotError as exc:
            blocks = cards.notice_message(locale, error_key(exc), id=clue_id)["blocks"]
        else:
            if isinstance(card, Refusal):
                blocks = refusal_notice(card, locale)["blocks"]
            else:
                shown = card.render(self._deps.renderer, locale).message["blocks"]
                blocks = search_cards.picked_card(shown, locale, clue_id, channel=channel)
        modal = search_cards.find_modal(locale, blocks, channel=channel, picked=selected)
        view_hash = view.get("hash")
        await client.views_update(view_id=str(view.get("id") or ""), view=modal,
                                  hash=view_hash if isinstance(view_hash, str) else None)

    # ------------------------------------------------------------------ Show in chat

    async def on_show_in_chat(self, ack: Ack, body: Mapping[str, Any], client: AsyncWebClient) -> None:
        await ack()
        view = body.get("view")
        actions = body.get("actions")
        if not isinstance(view, Mapping) or not isinstance(actions, list) or not actions \
                or not isinstance(actions[0], Mapping):
            return
        channel = search_cards.modal_channel(view)
        try:
            clue_id = parse_clue_id(str(actions[0].get("value") or ""))
        except InvalidClueId:
            log.info("action.value.invalid", extra={"action": search_cards.ACTION_SHOW_IN_CHAT})
            return
        if channel is None:
            return  # the button is offered only when the modal knows its conversation
        who = Inbound.from_action(body)._replace(channel_id=channel)
        self._deps.runner.spawn(self._show_in_chat(who, channel, clue_id, view, client), name="clue.find.chat")

    async def _show_in_chat(self, who: Inbound, channel: str, clue_id: int, view: Mapping[str, Any],
                            client: AsyncWebClient) -> None:
        """The full card, ephemeral, to ``who`` in ``channel`` (admitted there as ``/clue <id>`` would be); the
        modal says where it went, or why it did not."""
        locale = self._gate.locales.get(who.user_id)
        try:
            card = await self._cards.card(who, clue_id, LOOKUP)
        except BotError as exc:
            note = error_notice(exc, clue_id, locale)["text"]
        else:
            if isinstance(card, Refusal):
                note = refusal_notice(card, locale)["text"]
            else:
                note = await self._post_ephemeral(card.render(self._deps.renderer, locale).message, who, channel,
                                                  clue_id, locale, client)
        view_hash = view.get("hash")
        await client.views_update(view_id=str(view.get("id") or ""), view=search_cards.with_chat_note(view, note),
                                  hash=view_hash if isinstance(view_hash, str) else None)

    @staticmethod
    async def _post_ephemeral(message: Message, who: Inbound, channel: str, clue_id: int, locale: str,
                              client: AsyncWebClient) -> str:
        """Post the card; the modal's note: where it went, or why Slack did not take it."""
        try:
            await client.chat_postEphemeral(channel=channel, user=who.user_id or "", text=message["text"],
                                            blocks=message["blocks"])
        except SlackCallFailed as exc:  # logged and counted by the client
            hidden = exc.error in ("channel_not_found", "not_in_channel")
            return t(locale, "modal.not_shown_hidden" if hidden else "modal.not_shown", id=clue_id)
        log.info("clue.find.shown_in_chat", extra={"user": who.user_id, "channel": channel, "clue_id": clue_id})
        return t(locale, "modal.shown_in_chat", channel=channel)


def _page_request(body: Mapping[str, Any]) -> tuple[str, int] | None:
    """``(query, page)`` from a Next / Previous button's value, or None when it is not ours."""
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], Mapping):
        return None
    try:
        value = json.loads(str(actions[0].get("value") or ""))
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    query, page = value.get("q"), value.get("p")
    if not isinstance(query, str) or type(page) is not int or not 1 <= page <= MAX_RESULT_PAGES:
        return None
    return query, page


async def _sent(call: Awaitable[Any]) -> None:
    """A Web API call as a task (its failure is logged by the client, and ends the task quietly)."""
    await call


async def _quietly(work: asyncio.Future[Timed[SearchPage]]) -> None:
    """A search the type-ahead stopped waiting for: it fills the cache; its failure was counted there."""
    with contextlib.suppress(BotError):
        await work
