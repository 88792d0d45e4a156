"""Whether a conversation is shared with another organisation (Slack Connect), from ``conversations.info``.

Slash commands and ``block_actions`` payloads do not say (only Events API callbacks carry
``is_ext_shared_channel``), so the Gate asks here before a rule that depends on it (Share, unfurls).
Answers are cached per conversation for ``ttl`` seconds in a bounded cache, and one call at a time per
conversation (concurrent askers await the same call). Anything short of Slack's ``is_ext_shared`` boolean
(an error, a missing scope, the field absent) reads as None, unknown, and the rules fail closed on it; an
unknown answer is remembered for a shorter time so a passing error heals soon.

A bot token sees only the conversations the app was added to: for most direct messages, group DMs and
private channels Slack answers ``channel_not_found``. That is still unknown, but ``hidden`` says so, so
the person is told the true reason (the app is not in the conversation), not that it is shared.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from cachetools import TTLCache

from bot.errors import SlackCallFailed
from bot.slack.webapi import SlackWebClient

TTL_SECONDS = 600.0  # a channel rarely becomes (or stops being) shared; ten minutes late at most
UNKNOWN_TTL_SECONDS = 30.0
MAX_CONVERSATIONS = 10_000
# A composer preview's "channel": the message is still being typed and Slack does not say where.
COMPOSER = "COMPOSER"
HIDDEN_ERRORS = frozenset({"channel_not_found"})  # what Slack answers a bot token about a conversation it is not in


class ConversationInfo:
    def __init__(self, client: SlackWebClient, *, clock: Callable[[], float], ttl: float = TTL_SECONDS,
                 unknown_ttl: float = UNKNOWN_TTL_SECONDS, maxsize: int = MAX_CONVERSATIONS,
                 composer_unshared: bool = False) -> None:
        self._client = client
        # A composer preview names no conversation: unknown (refused), unless the operator says the workspace
        # has no Slack Connect channels (CLUE_COMPOSER_PREVIEWS).
        self._composer: bool | None = False if composer_unshared else None
        self._known: TTLCache[str, bool] = TTLCache(maxsize=maxsize, ttl=ttl, timer=clock)
        # unknown conversations -> whether Slack said the app cannot see them
        self._unknown: TTLCache[str, bool] = TTLCache(maxsize=maxsize, ttl=unknown_ttl, timer=clock)
        self._pending: dict[str, asyncio.Future[bool | None]] = {}

    def cached(self, channel_id: str) -> tuple[bool, bool | None]:
        """``(True, answer)`` when the answer is at hand without asking Slack (None: Slack would not say),
        else ``(False, None)``."""
        if channel_id == COMPOSER:
            return True, self._composer
        known = self._known.get(channel_id)
        if known is not None:
            return True, known
        return channel_id in self._unknown, None

    async def slack_connect(self, channel_id: str) -> bool | None:
        """Whether the conversation is externally shared; None when Slack would not say."""
        at_hand, shared = self.cached(channel_id)
        if at_hand:
            return shared
        return await asyncio.shield(self._asked(channel_id))  # one asker giving up does not cancel the others

    def hidden(self, channel_id: str) -> bool:
        """Whether Slack lately answered that the app cannot see this conversation (it was not added to it)."""
        return self._unknown.get(channel_id, False)

    def _asked(self, channel_id: str) -> asyncio.Future[bool | None]:
        """The one conversations.info call in flight for ``channel_id``, started if there is none."""
        pending = self._pending.get(channel_id)
        if pending is None:
            pending = asyncio.ensure_future(self._ask(channel_id))
            self._pending[channel_id] = pending
            pending.add_done_callback(lambda _: self._pending.pop(channel_id, None))
        return pending

    async def _ask(self, channel_id: str) -> bool | None:
        try:
            response = await self._client.conversations_info(channel=channel_id)
        except SlackCallFailed as exc:  # logged and counted by the client
            self._unknown[channel_id] = exc.error in HIDDEN_ERRORS
            return None
        channel = response.get("channel")
        shared = channel.get("is_ext_shared") if isinstance(channel, dict) else None
        if not isinstance(shared, bool):
            self._unknown[channel_id] = False
            return None
        self._known[channel_id] = shared
        return shared
