"""Calls to Slack: one Web API client class, the one place a failed call is logged and counted.

``SlackWebClient`` wraps ``AsyncWebClient.api_call``, which every Web API method goes through (the way
Sentry's Slack integration wraps slack_sdk's in ``sdk_client.py``): a failure of any method is counted in
``cluebot_slack_call_failures`` by method and logged once as ``slack.call.failed`` with Slack's error code
and the HTTP status, then raised as ``SlackCallFailed``. Only Slack's answers (``SlackApiError``) and the
transport's failures (timeouts, aiohttp errors) are "Slack failed"; anything else (a programming error,
``SlackRequestError`` for arguments slack_sdk refuses) propagates untouched. Catchers log nothing more, and
the task runner ends a task on ``SlackCallFailed`` quietly.

Bolt builds a plain ``AsyncWebClient`` for every request from the one it is given (copying its URL, token,
headers and retry handlers, not its class), so ``bot.slack.inbound.Door`` hands listeners the app's own
``SlackWebClient`` as ``client`` instead.

Every client retries what Slack asks to be retried: HTTP 429 waits ``Retry-After`` (slack_sdk's rate-limit
handler; ``chat.unfurl`` is Tier 3) and a dropped connection is tried again; only the last failure counts.

``response_url`` posts through Bolt's ``respond()`` do not raise when Slack refuses them (``expired_url``,
``used_url``, ``invalid_blocks``): ``SlackCalls.checked`` reads the answer and records a refusal the same way
(method ``response_url``; never the URL, which is a credential).
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
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.errors import SlackCallFailed
from bot.runtime.metrics import Metrics

log = logging.getLogger(__name__)

Respond = Callable[..., Awaitable[Any]]

RESPONSE_URL = "response_url"
# Answers that are part of normal use, not trouble: counted like any failure, logged at INFO. A bot token
# sees only the conversations the app was added to, so most DMs answer conversations.info this way.
EXPECTED_ERRORS = {"conversations.info": frozenset({"channel_not_found"})}
MAX_UNFURLS_IN_FLIGHT = 8
RATE_LIMIT_RETRIES = 2  # a 429 twice in a row is a real overload: the caller hears of it
_MAX_ERROR_CHARS = 64


def retry_handlers() -> list[AsyncRetryHandler]:
    """Fresh handlers for one client (they hold no state between calls, but each client gets its own)."""
    return [AsyncConnectionErrorRetryHandler(), AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES)]


class SlackCalls:
    """Logs and counts failed calls to Slack, and bounds the unfurl calls in flight.

    ``unfurl_slots``: one CRM answer can wake every message waiting on that clue at once; unbounded, their
    chat.unfurl calls would take the CPU in one burst while Slack's acks wait behind it (and Slack allows
    chat.unfurl ~50 a minute anyway). Eight at a time keep the acks' turns short.
    """

    def __init__(self, metrics: Metrics, *, max_unfurls: int = MAX_UNFURLS_IN_FLIGHT) -> None:
        self._metrics = metrics
        self.unfurl_slots = asyncio.Semaphore(max_unfurls)

    def failed(self, method: str, error: str, status: int | None = None) -> SlackCallFailed:
        """Count and log one failed call; the error to raise for it."""
        error = error[:_MAX_ERROR_CHARS]
        self._metrics.slack_call_failures.inc(method)
        level = logging.INFO if error in EXPECTED_ERRORS.get(method, ()) else logging.WARNING
        log.log(level, "slack.call.failed", extra={"method": method, "error": error, "status": status})
        return SlackCallFailed(method, error, status)

    def checked(self, respond: Respond) -> Respond:
        """``respond`` that records a refused or undelivered ``response_url`` post and never raises for one.

        A payload without ``response_url`` (a Work Object button in the flexpane) has nowhere to answer:
        posts are dropped with one INFO line, where Bolt's ``respond`` would raise inside the task."""
        if getattr(respond, "response_url", RESPONSE_URL) is None:
            return _nowhere

        async def post(**message: Any) -> Any:
            try:
                answer = await respond(**message)
            except (TimeoutError, aiohttp.ClientError) as exc:
                self.failed(RESPONSE_URL, type(exc).__name__)
                return None
            status = getattr(answer, "status_code", 200)
            if status != 200:
                # Slack answers a refused response_url post with its error code as the plain-text body.
                self.failed(RESPONSE_URL, str(getattr(answer, "body", "") or status), status)
            return answer

        return post


async def _nowhere(**message: Any) -> None:
    log.info("slack.respond.unavailable", extra={"reason": "no_response_url"})


class SlackWebClient(AsyncWebClient):
    """An ``AsyncWebClient`` whose every call's failure is counted, logged once and raised as ``SlackCallFailed``."""

    def __init__(self, calls: SlackCalls, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.calls = calls

    async def api_call(self, api_method: str, **kwargs: Any) -> AsyncSlackResponse:
        try:
            return await super().api_call(api_method, **kwargs)
        except SlackApiError as exc:
            raise self.calls.failed(api_method, *_error_of(exc.response)) from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise self.calls.failed(api_method, type(exc).__name__) from exc


def _error_of(answer: Any) -> tuple[str, int | None]:
    """Slack's error code and the HTTP status of a refused call. slack_sdk hands over its own response for a
    JSON answer, or aiohttp's for a body it could not decode; an answer without a code is named by its status."""
    status = getattr(answer, "status_code", None) or getattr(answer, "status", None)
    status = status if isinstance(status, int) else None
    data = getattr(answer, "data", None)
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, str) and error:
        return error, status
    return (f"http_{status}" if status is not None else "no_answer"), status


def web_client(api_url: str, calls: SlackCalls, token: str | None = None) -> SlackWebClient:
    """A Web API client that waits out rate limits, retries dropped connections and records failures."""
    return SlackWebClient(calls, token=token, base_url=api_url, retry_handlers=retry_handlers())
