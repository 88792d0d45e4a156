"""What every post of the alerts shares: per-channel pacing, the errors that stop a channel, and the search
for messages a crash left posted but unmarked.

One ``ChannelPacer`` serves the new-clue alerts and the watch replies alike, so a channel gets at most one
post of either per ``interval`` (Slack's ~1 message per second per channel). It also pauses all of them when
Slack refuses the app itself (a revoked token, a removed scope): every channel would answer the same, so one
warning stands for them all and the posts wait, pending, for ``PAUSE_SECONDS`` before one tries again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

CHANNEL_GONE = frozenset({"not_in_channel", "channel_not_found", "is_archived"})
# Slack refusing the app, not a channel: no post anywhere can succeed until an admin acts.
APP_REFUSED = frozenset({"token_revoked", "token_expired", "invalid_auth", "not_authed", "account_inactive",
                         "missing_scope", "team_access_not_granted", "ekm_access_denied"})
PAUSE_SECONDS = 300.0
HISTORY_PAGES = 5  # how far back (x 200 messages) recovery looks for an already-posted message
RECOVERY_SLACK_SECONDS = 60.0  # history is searched from this long before the post was recorded


class ChannelPacer:
    def __init__(self, interval: float, monotonic: Callable[[], float],
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self._interval = interval
        self._monotonic = monotonic
        self._sleep = sleep
        self._last_post: dict[str, float] = {}
        self._paused_until: float | None = None

    @property
    def paused(self) -> bool:
        """Whether posting waits after Slack refused the app (see ``refused``)."""
        return self._paused_until is not None and self._monotonic() < self._paused_until

    def refused(self, error: str) -> bool:
        """Whether ``error`` refuses the app itself; if so every post pauses for ``PAUSE_SECONDS`` (one
        warning per pause, however many channels were waiting)."""
        if error not in APP_REFUSED:
            return False
        if not self.paused:
            log.warning("alerts.posting.paused", extra={"error": error, "seconds": PAUSE_SECONDS})
        self._paused_until = self._monotonic() + PAUSE_SECONDS
        return True

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
