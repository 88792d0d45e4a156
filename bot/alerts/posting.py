"""What every post of the alerts shares: per-channel pacing, the errors that stop a channel, and the search
for messages a crash left posted but unmarked.

One ``ChannelPacer`` serves the new-clue alerts and the watch replies alike, so a channel gets at most one
post of either per ``interval`` (Slack's ~1 message per second per channel).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

CHANNEL_GONE = frozenset({"not_in_channel", "channel_not_found", "is_archived"})
HISTORY_PAGES = 5  # how far back (x 200 messages) recovery looks for an already-posted message
RECOVERY_SLACK_SECONDS = 60.0  # history is searched from this long before the post was recorded


class ChannelPacer:
    def __init__(self, interval: float, monotonic: Callable[[], float],
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self._interval = interval
        self._monotonic = monotonic
        self._sleep = sleep
        self._last_post: dict[str, float] = {}

    async def wait(self, channel: str) -> None:
        """Until ``channel`` may be posted to again."""
        last = self._last_post.get(channel)
        if last is not None:
            wait = last + self._interval - self._monotonic()
            if wait > 0:
                await self._sleep(wait)

    def posted(self, channel: str) -> None:
        self._last_post[channel] = self._monotonic()


async def recent_messages(client: AsyncWebClient, channel: str, oldest: float,
                          thread_ts: str | None = None) -> list[Any]:
    """The channel's messages since ``oldest`` (epoch seconds, less ``RECOVERY_SLACK_SECONDS``), or with
    ``thread_ts`` that thread's replies (``conversations.replies``), at most ``HISTORY_PAGES`` pages. Needs
    the ``channels:history`` / ``groups:history`` scopes: raises ``SlackCallFailed`` like any call."""
    found: list[Any] = []
    cursor: str | None = None
    since = f"{oldest - RECOVERY_SLACK_SECONDS:.6f}"
    for _ in range(HISTORY_PAGES):
        if thread_ts is None:
            answer = await client.conversations_history(channel=channel, oldest=since, limit=200,
                                                        include_all_metadata=True, cursor=cursor)
        else:
            answer = await client.conversations_replies(channel=channel, ts=thread_ts, oldest=since, limit=200,
                                                        include_all_metadata=True, cursor=cursor)
        found += answer.get("messages") or []
        cursor = (answer.get("response_metadata") or {}).get("next_cursor") or None
        if cursor is None:
            break
    return found
