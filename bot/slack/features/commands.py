"""``/clue``: help, usage errors, one clue as a card, several as a list, a search as a pick list.

A cache hit answers in the ack with a card rendered once; a miss waits up to the ack budget, then
acks "Looking up…" and the answer follows through ``respond`` from a background task.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Mapping
from typing import Any

from slack_bolt.response import BoltResponse

from bot.cache.clues import Lookup
from bot.errors import BotError
from bot.slack import cards, search_cards
from bot.slack.features import Ack, FeatureDeps, Message, Respond
from bot.slack.features.search import ClueSearch
from bot.slack.gate import LOOKUP, Pass, Refusal
from bot.slack.inbound import Inbound
from bot.slack.links import CommandRequest, parse_command
from bot.slack.notices import error_key, error_notice, log_failure, refusal_notice

MEMO_TEXT_CHARS = 200  # longer /clue texts (several links) are rare: parsed afresh each time


class ClueCommand:
    def __init__(self, deps: FeatureDeps, search: ClueSearch) -> None:
        self._deps = deps
        self._search = search
        self._gate = deps.gate
        self._renderer = deps.renderer
        self._options = deps.options
        # Parsing is pure and most commands repeat (`/clue 8`): short texts are remembered (C lru_cache,
        # ~50 ns a hit, at most 1024 x MEMO_TEXT_CHARS characters held).
        self._parse_short = functools.lru_cache(maxsize=1024)(
            functools.partial(parse_command, matcher=deps.matcher, max_ids=deps.options.max_ids))

    async def on_command(self, ack: Ack, command: Mapping[str, Any], respond: Respond) -> BoltResponse | None:
        who = Inbound.from_command(command)
        locale = self._gate.locales.get(who.user_id)
        text = str(command.get("text") or "")
        request = self._parse_short(text) if len(text) <= MEMO_TEXT_CHARS else \
            parse_command(text, self._deps.matcher, self._options.max_ids)
        notice = self._usage(request, locale)
        if notice is not None:
            await ack(response_type="ephemeral", **notice)
            return None
        if request.search is not None:
            answer = self._search.command(who, request.search, locale)
            if isinstance(answer, dict):
                await ack(response_type="ephemeral", **answer)
                return None
            await self._ack_when_done(answer, ack, respond, locale, "searching")
            return None
        admitted = self._gate.admit(who, LOOKUP, cost=len(request.ids))
        if isinstance(admitted, Refusal):
            await ack(response_type="ephemeral", **refusal_notice(admitted, locale))
            return None
        if len(request.ids) == 1:
            clue_id = request.ids[0]
            hit = admitted.cached(clue_id)
            if hit is not None:
                # Fast path: no I/O, no task, and (rendered before) no re-rendering or re-encoding.
                # With process_before_response=True, Bolt sends a listener's returned response as the ack
                # (as application/json;charset=utf-8, since the body starts with "{").
                return BoltResponse(status=200, body=self._renderer.card(hit, locale, who).ack_body)
            work: asyncio.Future[Message] = asyncio.ensure_future(self._single(admitted, clue_id, locale))
        else:
            work = asyncio.ensure_future(self._several(admitted, request.ids, locale))
        await self._ack_when_done(work, ack, respond, locale, "looking_up", id=request.ids[0])
        return None

    async def _ack_when_done(self, work: asyncio.Future[Message], ack: Ack, respond: Respond, locale: str,
                             placeholder: str, **args: object) -> None:
        """Ack with the answer when it is ready within the ack budget, else with a placeholder that the
        answer replaces later."""
        done, _ = await asyncio.wait({work}, timeout=self._options.ack_budget)
        if done:
            await ack(response_type="ephemeral", **work.result())
            return
        await ack(response_type="ephemeral", **cards.notice_message(locale, placeholder, **args))
        self._deps.runner.spawn(self._replace_when_done(work, respond, locale), name="clue.command.slow")

    def _usage(self, request: CommandRequest, locale: str) -> Message | None:
        """A notice instead of a lookup: help, or input that holds no lookup to make."""
        if request.help:
            return search_cards.help_message(locale, self._options.max_ids)
        if request.invalid:
            bad = request.invalid[0]
            return cards.notice_message(locale, "invalid_id", text=bad.text[:40], reason=bad.reason)
        if request.too_many:
            return cards.notice_message(locale, "too_many", max_ids=self._options.max_ids)
        return None

    async def _single(self, admitted: Pass, clue_id: int, locale: str) -> Message:
        try:
            lookup = await admitted.get(clue_id)
        except BotError as exc:
            return error_notice(exc, clue_id, locale)
        return self._renderer.card(lookup, locale, admitted.who).message

    async def _several(self, admitted: Pass, ids: tuple[int, ...], locale: str) -> Message:
        results = await asyncio.gather(*(admitted.get(i) for i in ids), return_exceptions=True)
        items: list[cards.ListItem] = []
        for clue_id, result in zip(ids, results, strict=True):
            if isinstance(result, Lookup):
                items.append(result.clue)
            elif isinstance(result, BotError):
                log_failure(result, clue_id)
                items.append((clue_id, error_key(result)))
            else:
                raise result
        return self._renderer.list_message(items, ids, locale, admitted.who)

    @staticmethod
    async def _replace_when_done(work: asyncio.Future[Message], respond: Respond, locale: str) -> None:
        try:
            message = await work
        except Exception:
            # A bug, logged by the task runner; the placeholder must not promise an answer forever.
            await respond(replace_original=True, response_type="ephemeral",
                          **cards.notice_message(locale, "internal_error"))
            raise
        await respond(replace_original=True, response_type="ephemeral", **message)
