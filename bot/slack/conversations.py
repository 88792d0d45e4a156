"""Whether a conversation is shared with another organisation (Slack Connect), from ``conversations.info``.

Slash commands and ``block_actions`` payloads do not say (only Events API callbacks carry
``is_ext_shared_channel``), so the Gate asks here before a rule that depends on it (Share, unfurls).
Answers are cached per conversation for ``ttl`` seconds in a bounded cache, and one call at a time per
conversation (concurrent askers await the same call). Anything short of Slack's ``is_ext_shared`` boolean
(an error, a missing scope, the field absent) reads as None, unknown, and the rules fail closed on it; an
unknown answer is remembered for a shorter time so a passing error heals soon.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiohttp
from cachetools import TTLCache
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.webapi import SlackCalls

TTL_SECONDS = 600.0  # a channel rarely becomes (or stops being) shared; ten minutes late at most
UNKNOWN_TTL_SECONDS = 30.0
MAX_CONVERSATIONS = 10_000
# A composer preview's "channel": the message is still being typed and Slack does not say where.
COMPOSER = "COMPOSER"


class ConversationInfo:
    def __init__(self, client: AsyncWebClient, calls: SlackCalls, *,
                 clock: Callable[[], float], ttl: float = TTL_SECONDS, unknown_ttl: float = UNKNOWN_TTL_SECONDS,
                 maxsize: int = MAX_CONVERSATIONS) -> None:
        self._client = client
        self._calls = calls
        self._known: TTLCache[str, bool] = TTLCache(maxsize=maxsize, ttl=ttl, timer=clock)
        self._unknown: TTLCache[str, None] = TTLCache(maxsize=maxsize, ttl=unknown_ttl, timer=clock)
        self._pending: dict[str, asyncio.Future[bool | None]] = {}

    def cached(self, channel_id: str) -> tuple[bool, bool | None]:
        """``(True, answer)`` when the answer is at hand without asking Slack (None: Slack would not say),
        else ``(False, None)``."""
        known = self._known.get(channel_id)
        if known is not None:
            return True, known
        return (channel_id in self._unknown or channel_id == COMPOSER), None

    async def slack_connect(self, channel_id: str) -> bool | None:
        """Whether the conversation is externally shared; None when Slack would not say."""
        at_hand, shared = self.cached(channel_id)
        if at_hand:
            return shared
        return await asyncio.shield(self._asked(channel_id))  # one asker giving up does not cancel the others

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
        except SlackApiError as exc:
            self._calls.api_failed("conversations.info", exc)
            self._unknown[channel_id] = None
            return None
        except (TimeoutError, aiohttp.ClientError) as exc:
            self._calls.failed("conversations.info", type(exc).__name__)
            self._unknown[channel_id] = None
            return None
        channel = response.get("channel")
        shared = channel.get("is_ext_shared") if isinstance(channel, dict) else None
        if not isinstance(shared, bool):
            self._unknown[channel_id] = None
            return None
        self._known[channel_id] = shared
        return shared
