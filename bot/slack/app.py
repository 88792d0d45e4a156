"""The Bolt app: every feature's listeners registered in one place, plus the one error handler."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.async_authorize import AsyncAuthorize
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.follow_ups import FollowUp
from bot.slack import cards, search_cards
from bot.slack.features import FeatureDeps, actions
from bot.slack.features import modals as modal_feature
from bot.slack.features.actions import CardActions
from bot.slack.features.commands import ClueCommand
from bot.slack.features.entities import EntityDetails
from bot.slack.features.modals import ClueModals
from bot.slack.features.search import ClueSearch
from bot.slack.features.unfurls import LinkUnfurls
from bot.slack.gate import Gate, Pass
from bot.slack.webapi import web_client

log = logging.getLogger(__name__)

COMMAND = "/clue"
EVENTS = ("link_shared", "entity_details_requested")
PAGE_ACTIONS = (search_cards.ACTION_PREVIOUS, search_cards.ACTION_NEXT)
# every button a card (or a search's pick list) renders
ACTIONS = (*actions.LISTENERS, *modal_feature.CARD_BUTTONS, *PAGE_ACTIONS, search_cards.ACTION_FIND,
           search_cards.ACTION_PICK)
SHORTCUTS = (search_cards.SHORTCUT_FIND,)
# The bot token's scopes (manifest.yml's, held equal by tests/test_manifest.py); users:read only serves
# each person's locale (CLUE_USER_LOCALE).
BOT_SCOPES = ("commands", "links:read", "links:write", "users:read", "channels:read", "groups:read", "im:read",
              "mpim:read", "chat:write")  # chat:write: new-clue alerts (bot.alerts)
_BOLT_UNUSED_WARNING = "`token` will be unused"  # Bolt's warning when a client is given with a token
EventListener = Callable[[Mapping[str, Any], Mapping[str, Any], AsyncWebClient], Awaitable[None]]


def create_app(deps: FeatureDeps, *, api_url: str, token: str | None, signing_secret: str | None) -> AsyncApp:
    """An AsyncApp answering in the ack (``process_before_response=True``: no 10 ms ack polling)."""
    bolt_logger = logging.getLogger("slack_bolt.app")
    # Bolt compares its logger's own level (not the effective one) with DEBUG before formatting a debug
    # line for every middleware of every request; an unset level would format them all just to drop them.
    bolt_logger.setLevel(bolt_logger.getEffectiveLevel())
    with _token_warning_dropped(bolt_logger):
        app = _bolt(api_url, token, signing_secret, bolt_logger)
    search = ClueSearch(deps)
    app.command(COMMAND)(ClueCommand(deps, search).on_command)
    events: dict[str, EventListener] = {"link_shared": LinkUnfurls(deps).on_link_shared,
                                        "entity_details_requested": EntityDetails(deps, follow_ups=_latest_follow_ups)
                                        .on_entity_details_requested}
    for name in EVENTS:
        app.event(name)(_first_delivery(deps.gate, events[name]))
    for action_id, listener in CardActions(deps).listeners().items():
        app.action(action_id)(listener)
    for action_id, listener in ClueModals(deps).listeners().items():
        app.action(action_id)(listener)
    for action_id in PAGE_ACTIONS:
        app.action(action_id)(search.on_page)
    app.action(search_cards.ACTION_FIND)(search.on_find_button)
    app.action(search_cards.ACTION_PICK)(search.on_pick)
    app.options(search_cards.ACTION_PICK)(search.on_suggestion)
    app.shortcut(search_cards.SHORTCUT_FIND)(search.on_shortcut)
    app.error(_on_error)
    return app


def _bolt(api_url: str, token: str | None, signing_secret: str | None, logger: logging.Logger) -> AsyncApp:
    return AsyncApp(
        # Bolt gives each request its own client (copying this one's retry handlers) with the token from
        # ``authorize``; this one holds no token.
        client=web_client(api_url),
        authorize=_StaticTokenAuthorize(token),
        signing_secret=signing_secret,
        # Socket Mode has no HTTP signatures to check; HTTP always does.
        request_verification_enabled=signing_secret is not None,
        process_before_response=True,
        raise_error_for_unhandled_request=True,
        logger=logger,
    )


@contextmanager
def _token_warning_dropped(logger: logging.Logger) -> Iterator[None]:
    """Bolt reads ``SLACK_BOT_TOKEN`` from the process environment by itself, and warns on every start
    that the token "will be unused" when a client is given as well. It is not unused: ``authorize`` hands
    the same token (from ``Settings``) to every request. Only that one line is dropped, only while the app
    is built; a real problem in construction still logs."""

    def keep(record: logging.LogRecord) -> bool:
        return _BOLT_UNUSED_WARNING not in record.getMessage()

    logger.addFilter(keep)
    try:
        yield
    finally:
        logger.removeFilter(keep)


def _first_delivery(gate: Gate, listener: EventListener) -> EventListener:
    """Every event listener runs once per event, however often Slack redelivers it."""

    async def deduped(event: Mapping[str, Any], body: Mapping[str, Any], client: AsyncWebClient) -> None:
        if await gate.first_delivery(body):
            await listener(event, body, client)

    return deduped


class _StaticTokenAuthorize(AsyncAuthorize):
    """One workspace, one bot token: the same result for every request.

    Bolt's single-team authorization would first call auth.test before the first ack (and fail every
    request while the Web API is unreachable); a plain ``authorize`` function would rebuild its
    arguments and result on every request.
    """

    def __init__(self, token: str | None) -> None:
        self._result = AuthorizeResult(enterprise_id=None, team_id=None, bot_token=token)

    async def __call__(self, *, context: Any, enterprise_id: str | None, team_id: str | None,
                       user_id: str | None, **_: Any) -> AuthorizeResult:
        return self._result


async def _on_error(error: Exception, body: dict[str, Any]) -> BoltResponse:
    """Unknown requests get a quiet 200; bugs are logged once and never shown as a traceback."""
    kind = body.get("type") or ("command" if "command" in body else "unknown")
    if type(error).__name__ == "BoltUnhandledRequestError":
        log.info("slack.request.unhandled", extra={"kind": kind})
    else:
        log.error("slack.listener.failed", exc_info=error, extra={"kind": kind})
    if kind == "command":
        notice = {"response_type": "ephemeral", **cards.notice_message("en", "internal_error")}
        return BoltResponse(status=200, body=json.dumps(notice), headers={"content-type": "application/json"})
    return BoltResponse(status=200, body="")


async def _latest_follow_ups(admitted: Pass, clue_id: int) -> Sequence[FollowUp]:
    """The flexpane's timeline: the newest page of follow-ups, through the viewer's pass."""
    return (await admitted.follow_ups(clue_id)).value.items
