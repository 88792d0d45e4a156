"""``/clue``: help, usage errors, one clue as a card, several as a list, a search as a pick list.

A cache hit answers in the ack with a card rendered once; a miss waits up to the ack budget, then
acks a placeholder and the answer follows through ``respond`` from a background task.

Slack's interactivity guide says ``replace_original`` cannot modify the message that invoked a slash
command, and slackapi issues (bolt-js #2287, bolt-python #1268) report the follow-up arriving as a new
message; elsewhere it does replace the placeholder. Both must read right: the placeholder never says it is
still working ("Looking up…" would stay on screen, untrue, next to the answer); it says the card comes as a
message of its own, which stays true, and every follow-up (card, list or notice) names its clue by itself.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Mapping
from typing import Any

from slack_bolt.response import BoltResponse

from bot.cache.clues import Lookup
from bot.errors import BotError
from bot.slack import cards, search_cards
from bot.slack.features import Ack, FeatureDeps, Message, Respond, follow_ups_within, start_follow_ups
from bot.slack.features.alerts import AlertCommands
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
        self._alerts = AlertCommands(deps)
        self._gate = deps.gate
        self._renderer = deps.renderer
        self._options = deps.options
        # Parsing is pure and most commands repeat (`/clue 8`): short texts are remembered (C lru_cache,
        # ~50 ns a hit, at most 1024 x MEMO_TEXT_CHARS characters held).
        self._parse_short = functools.lru_cache(maxsize=1024)(
            functools.partial(parse_command, matcher=deps.matcher, max_ids=deps.options.max_ids))
        # A few hundred variants at most: locales x (rules, or seconds to wait up to a minute).
        self._refusal_body = functools.lru_cache(maxsize=512)(_refusal_body)

    async def on_command(self, ack: Ack, command: Mapping[str, Any], respond: Respond) -> BoltResponse | None:
        # Whether the channel is shared with another organisation decides the Share button (cached per channel).
        who = await self._gate.place(Inbound.from_command(command), within=self._options.ack_budget / 2)
        locale = self._gate.locales.get(who.user_id)
        text = str(command.get("text") or "")
        request = self._parse_short(text) if len(text) <= MEMO_TEXT_CHARS else \
            parse_command(text, self._deps.matcher, self._options.max_ids)
        if request.alerts is not None:  # /clue subscribe | subscriptions | unsubscribe (bot.slack.features.alerts)
            await ack(response_type="ephemeral", **await self._alerts.answer(*request.alerts, who, locale))
            return None
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
            # The cheapest answer there is: a script hammering /clue gets a notice encoded once, like a hit.
            return BoltResponse(status=200, body=self._refusal_body(locale, admitted.key,
                                                                    tuple(sorted(admitted.args.items()))))
        if len(request.ids) == 1:
            clue_id = request.ids[0]
            hit = admitted.cached(clue_id)
            follow_ups = admitted.cached_follow_ups(clue_id) if hit is not None else None
            if hit is not None and (follow_ups is not None or admitted.follow_ups_failed(clue_id)):
                # Fast path: no I/O, no task, and (rendered before) no re-rendering or re-encoding.
                # With process_before_response=True, Bolt sends a listener's returned response as the ack
                # (as application/json;charset=utf-8, since the body starts with "{").
                rendered = self._renderer.card(hit, locale, who, follow_ups=follow_ups,
                                               follow_ups_missing=follow_ups is None)
                return BoltResponse(status=200, body=rendered.ack_body)
            work: asyncio.Future[Message] = asyncio.ensure_future(self._single(admitted, clue_id, locale))
        else:
            work = asyncio.ensure_future(self._several(admitted, request.ids, locale))
        await self._ack_when_done(work, ack, respond, locale, "answer_follows", id=request.ids[0])
        return None

    async def _ack_when_done(self, work: asyncio.Future[Message], ack: Ack, respond: Respond, locale: str,
                             placeholder: str, **args: object) -> None:
        """Ack with the answer when it is ready within the ack budget, else with a placeholder (which
        stays true next to it) and the answer following through ``respond``."""
        done, _ = await asyncio.wait({work}, timeout=self._options.ack_budget)
        if done:
            await ack(response_type="ephemeral", **work.result())
            return
        await ack(response_type="ephemeral", **cards.notice_message(locale, placeholder, **args))
        respond = self._deps.calls.checked(respond)
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
        pending = start_follow_ups(admitted, clue_id)
        try:
            lookup = await admitted.get(clue_id)
        except BotError as exc:
            pending.cancel()
            return error_notice(exc, clue_id, locale)
        follow_ups = await follow_ups_within(pending, clue_id, self._options.follow_up_wait)
        return self._renderer.card(lookup, locale, admitted.who, follow_ups=follow_ups,
                                   follow_ups_missing=follow_ups is None).message

    async def _several(self, admitted: Pass, ids: tuple[int, ...], locale: str) -> Message:
        pending = {i: start_follow_ups(admitted, i) for i in dict.fromkeys(ids)}
        results = await asyncio.gather(*(admitted.get(i) for i in ids), return_exceptions=True)
        # Each row's latest activity, if its follow-ups come within the wait; else its last update.
        answers = await asyncio.gather(*(follow_ups_within(work, i, self._options.follow_up_wait)
                                         for i, work in pending.items()))
        activity = {i: latest for i, answer in zip(pending, answers, strict=True)
                    if answer is not None and (latest := answer.value.latest) is not None}
        items: list[cards.ListItem] = []
        for clue_id, result in zip(ids, results, strict=True):
            if isinstance(result, Lookup):
                items.append(result.clue)
            elif isinstance(result, BotError):
                log_failure(result, clue_id)
                items.append((clue_id, error_key(result)))
            else:
                raise result
        return self._renderer.list_message(items, ids, locale, admitted.who, activity)

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


def _refusal_body(locale: str, key: str, args: tuple[tuple[str, object], ...]) -> str:
    notice = refusal_notice(Refusal(key, dict(args)), locale)
    return json.dumps({"response_type": "ephemeral", **notice}, ensure_ascii=False)
