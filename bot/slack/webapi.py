"""Calls to Slack: one way to build a Web API client, and failures made visible.

Every Web API client retries what Slack asks to be retried: HTTP 429 waits ``Retry-After`` (slack_sdk's
rate-limit handler; ``chat.unfurl`` is Tier 3) and a dropped connection is tried again. Bolt copies the
handlers of the client it is given into the client it builds for every request.

``response_url`` posts through Bolt's ``respond()`` do not raise when Slack refuses them (``expired_url``,
``used_url``, ``invalid_blocks``): ``SlackCalls.checked`` reads the answer, and every failed call, Web API
or ``response_url``, is logged once with Slack's error code (never the URL, which is a credential) and
counted in ``cluebot_slack_call_failures`` by method.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.runtime.metrics import Metrics

log = logging.getLogger(__name__)

Respond = Callable[..., Awaitable[Any]]

RESPONSE_URL = "response_url"
MAX_UNFURLS_IN_FLIGHT = 8
RATE_LIMIT_RETRIES = 2  # a 429 twice in a row is a real overload: the caller hears of it
_MAX_ERROR_CHARS = 64


def retry_handlers() -> list[AsyncRetryHandler]:
    """Fresh handlers for one client (they hold no state between calls, but each client gets its own)."""
    return [AsyncConnectionErrorRetryHandler(), AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES)]


def web_client(api_url: str, token: str | None = None) -> AsyncWebClient:
    """A Web API client that waits out rate limits and retries dropped connections."""
    return AsyncWebClient(token=token, base_url=api_url, retry_handlers=retry_handlers())


class SlackCalls:
    """Logs and counts failed calls to Slack, and bounds the unfurl calls in flight.

    ``unfurl_slots``: one CRM answer can wake every message waiting on that clue at once; unbounded, their
    chat.unfurl calls would take the CPU in one burst while Slack's acks wait behind it (and Slack allows
    chat.unfurl ~50 a minute anyway). Eight at a time keep the acks' turns short.
    """

    def __init__(self, metrics: Metrics, *, max_unfurls: int = MAX_UNFURLS_IN_FLIGHT) -> None:
        self._metrics = metrics
        self.unfurl_slots = asyncio.Semaphore(max_unfurls)

    def failed(self, method: str, error: str, **extra: Any) -> None:
        self._metrics.slack_call_failures.inc(method)
        log.warning("slack.call.failed", extra={"method": method, "error": error[:_MAX_ERROR_CHARS], **extra})

    def api_failed(self, method: str, exc: SlackApiError, **extra: Any) -> str:
        """Record a Web API error answer; returns Slack's error code."""
        error = str(exc.response.get("error"))
        self.failed(method, error, **extra)
        return error

    def checked(self, respond: Respond) -> Respond:
        """``respond`` that records a refused or undelivered ``response_url`` post (and never raises for one)."""

        async def post(**message: Any) -> Any:
            try:
                answer = await respond(**message)
            except (TimeoutError, aiohttp.ClientError) as exc:
                self.failed(RESPONSE_URL, type(exc).__name__)
                return None
            status = getattr(answer, "status_code", 200)
            if status != 200:
                # Slack answers a refused response_url post with its error code as the plain-text body.
                self.failed(RESPONSE_URL, str(getattr(answer, "body", "") or status), status=status)
            return answer

        return post
