"""``/clue``: help, usage errors, one clue as a card, several as a list, a search as a pick list.

The text is parsed first: help and usage errors are answered with no I/O at all. A cache hit answers in
the ack with a card rendered once; otherwise the card request's reads (the clue, its follow-ups and, for
the Share button, ``conversations.info``) run together, and everything before the ack shares one budget
(``SLACK_ACK_BUDGET_SECONDS``, counted from the request): past it, a placeholder is acked and the answer
follows through ``respond`` from a background task.

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

from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse

from bot.cache.timed import Timed
from bot.errors import BotError
from bot.slack import cards, search_cards
from bot.slack.features import Ack, FeatureDeps, Message, Respond
from bot.slack.features.alerts import AlertCommands
from bot.slack.features.card_request import clues
from bot.slack.features.people import PeopleCommands
from bot.slack.features.search import ClueSearch
from bot.slack.gate import LOOKUP, Pass, Placing, Refusal
from bot.slack.inbound import Inbound
from bot.slack.links import CommandRequest, parse_command
from bot.slack.notices import error_key, error_notice, log_failure, refusal_notice

COMMAND = "/clue"
MEMO_TEXT_CHARS = 200  # longer /clue texts (several links) are rare: parsed afresh each time


class ClueCommand:
    def __init__(self, deps: FeatureDeps, search: ClueSearch, people: PeopleCommands) -> None:
        self._deps = deps
        self._search = search
        self._alerts = AlertCommands(deps)
        self._people = people
        self._gate = deps.gate
        self._renderer = deps.renderer
        self._options = deps.options
        self._cards = deps.cards
        # Parsing is pure and most commands repeat (`/clue 8`): short texts are remembered (C lru_cache,
        # ~50 ns a hit, at most 1024 x MEMO_TEXT_CHARS characters held).
        self._parse_short = functools.lru_cache(maxsize=1024)(
            functools.partial(parse_command, matcher=deps.matcher, max_ids=deps.options.max_ids))
        # A few hundred variants at most: locales x (rules, or seconds to wait up to a minute).
        self._refusal_body = functools.lru_cache(maxsize=512)(_refusal_body)

    def register(self, app: AsyncApp) -> None:
        app.command(COMMAND)(self.on_command)

    async def on_command(self, ack: Ack, command: Mapping[str, Any], respond: Respond) -> BoltResponse | None:
        # One budget for everything before the ack, from here: Slack's conversations.info and the CRM alike.
        deadline = asyncio.get_running_loop().time() + self._options.ack_budget
        who = Inbound.from_command(command)
        locale = self._gate.locales.get(who.user_id)
        text = str(command.get("text") or "")
        request = self._parse_short(text) if len(text) <= MEMO_TEXT_CHARS else \
            parse_command(text, self._deps.matcher, self._options.max_ids)
        if request.alerts is not None:  # /clue subscribe | subscriptions | unsubscribe (bot.slack.features.alerts)
            await ack(response_type="ephemeral", **await self._alerts.answer(*request.alerts, who, locale))
            return None
        if request.people is not None:  # /clue me | link | unlink | mine (bot.slack.features.people)
            answer = self._people.answer(*request.people, who, locale)
            if isinstance(answer, dict):
                await ack(response_type="ephemeral", **answer)
            else:
                await self._ack_when_done(answer, deadline, ack, respond, locale, "people_working")
            return None
        notice = self._usage(request, locale)
        if notice is not None:  # help and usage errors: no I/O at all
            await ack(response_type="ephemeral", **notice)
            return None
        # Whether the conversation is shared with another organisation decides the Share button (and search):
        # known from the cache per conversation, else asked while the CRM is read, for half the budget at most.
        if request.search is not None:
            answer = self._search.command(await self._gate.place(who, within=self._options.ack_budget / 2),
                                          request.search, locale)
            if isinstance(answer, dict):
                await ack(response_type="ephemeral", **answer)
                return None
            await self._ack_when_done(answer, deadline, ack, respond, locale, "searching")
            return None
        admitted, placing = await self._cards.admit(who, LOOKUP, cost=len(request.ids),
                                                    within=self._options.ack_budget / 2)
        if isinstance(admitted, Refusal):
            # The cheapest answer there is: a script hammering /clue gets a notice encoded once, like a hit.
            return BoltResponse(status=200, body=self._refusal_body(locale, admitted.key,
                                                                    tuple(sorted(admitted.args.items()))))
        if len(request.ids) == 1:
            clue_id = request.ids[0]
            card = self._cards.at_hand(admitted, placing, clue_id)
            if card is not None:
                # Fast path: no I/O, no task, and (rendered before) no re-rendering or re-encoding.
                # With process_before_response=True, Bolt sends a listener's returned response as the ack
                # (as application/json;charset=utf-8, since the body starts with "{").
                return BoltResponse(status=200, body=card.render(self._renderer, locale).ack_body)
            work: asyncio.Future[Message] = asyncio.ensure_future(self._single(admitted, placing, clue_id, locale))
        else:
            work = asyncio.ensure_future(self._several(admitted, placing, request.ids, locale))
        await self._ack_when_done(work, deadline, ack, respond, locale, "answer_follows", id=request.ids[0])
        return None

    async def _ack_when_done(self, work: asyncio.Future[Message], deadline: float, ack: Ack, respond: Respond,
                             locale: str, placeholder: str, **args: object) -> None:
        """Ack with the answer when it is ready by the ack ``deadline`` (loop time), else with a placeholder
        (which stays true next to it) and the answer following through ``respond``."""
        remaining = max(0.0, deadline - asyncio.get_running_loop().time())
        done, _ = await asyncio.wait({work}, timeout=remaining)
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
        if request.near_miss is not None:
            word, command = request.near_miss
            return cards.notice_message(locale, "did_you_mean", word=word[:40], command=command)
        if request.invalid:
            bad = request.invalid[0]
            return cards.notice_message(locale, "invalid_id", text=bad.text[:40], reason=bad.reason)
        if request.too_many:
            return cards.notice_message(locale, "too_many", max_ids=self._options.max_ids)
        return None

    async def _single(self, admitted: Pass, placing: Placing, clue_id: int, locale: str) -> Message:
        try:
            card = await self._cards.start(admitted, placing, clue_id).card()
        except BotError as exc:
            return error_notice(exc, clue_id, locale)
        return card.render(self._renderer, locale).message

    async def _several(self, admitted: Pass, placing: Placing, ids: tuple[int, ...], locale: str) -> Message:
        pending = {i: self._cards.start(admitted, placing, i, owner=False) for i in dict.fromkeys(ids)}
        found = dict(zip(pending, await clues(list(pending.values())), strict=True))
        results = [found[i] for i in ids]
        # Each row's latest activity, if its follow-ups come within the wait; else its last update.
        answers = await asyncio.gather(*(card.follow_ups(self._options.follow_up_wait) for card in pending.values()))
        activity = {clue_id: latest for clue_id, answer in zip(pending, answers, strict=True)
                    if answer is not None and (latest := answer.value.latest) is not None}
        items: list[cards.ListItem] = []
        for clue_id, result in zip(ids, results, strict=True):
            if isinstance(result, Timed):
                items.append(result.value)
            elif isinstance(result, BotError):
                log_failure(result, clue_id)
                items.append((clue_id, error_key(result)))
            else:
                raise result
        return self._renderer.list_message(items, ids, locale, await placing.placed(), activity)

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
