"""The Bolt app: each feature binds its own listeners (``register(app)``); event dedupe is a global
middleware; one error handler."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.async_authorize import AsyncAuthorize
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import SlackCallFailed
from bot.slack import cards, people_cards, search_cards
from bot.slack.features import FeatureDeps
from bot.slack.features import entities as entity_feature
from bot.slack.features import home as home_feature
from bot.slack.features import unfurls as unfurl_feature
from bot.slack.features.actions import CardActions
from bot.slack.features.commands import COMMAND, ClueCommand
from bot.slack.features.entities import EntityDetails
from bot.slack.features.modals import ClueModals
from bot.slack.features.people import PeopleCommands
from bot.slack.features.search import ClueSearch
from bot.slack.features.unfurls import LinkUnfurls
from bot.slack.gate import Gate
from bot.slack.webapi import retry_handlers

log = logging.getLogger(__name__)
__all__ = ["ACTIONS", "BOT_SCOPES", "COMMAND", "EVENTS", "SHORTCUTS", "create_app"]

EVENTS = (unfurl_feature.EVENT, entity_feature.EVENT, home_feature.EVENT)
# every button a card (or a search's pick list) renders, each bound in its feature's register()
ACTIONS = (cards.ACTION_REFRESH, cards.ACTION_SHARE, cards.ACTION_REVEAL, cards.ACTION_OPEN, cards.ACTION_MORE,
           cards.ACTION_WATCH,
           search_cards.ACTION_SHOW,
           cards.ACTION_DETAILS, cards.ACTION_FOLLOW_UPS, search_cards.ACTION_PREVIOUS, search_cards.ACTION_NEXT,
           search_cards.ACTION_FIND, search_cards.ACTION_PICK, search_cards.ACTION_SHOW_IN_CHAT,
           # people (issue 23): /clue me's Yes / Not me, /clue mine's paging, Home's nudge time, off and language
           people_cards.ACTION_ME_YES, people_cards.ACTION_ME_NOT_ME, people_cards.ACTION_MINE_PREVIOUS,
           people_cards.ACTION_MINE_NEXT, people_cards.ACTION_NUDGE_TIME, people_cards.ACTION_NUDGE_OFF,
           people_cards.ACTION_LANGUAGE)
SHORTCUTS = (search_cards.SHORTCUT_FIND,)
# The bot token's scopes (manifest.yml's, held equal by tests/test_manifest.py); users:read only serves
# each person's locale (CLUE_USER_LOCALE).
BOT_SCOPES = ("commands", "links:read", "links:write", "users:read", "channels:read", "groups:read", "im:read",
              "mpim:read", "chat:write",  # chat:write: new-clue alerts (bot.alerts), Show in chat
              "users:read.email")  # /clue me: a Slack profile's e-mail, matched against the CRM's employees
_BOLT_UNUSED_WARNING = "`token` will be unused"  # Bolt's warning when a client is given with a token


def create_app(deps: FeatureDeps, door: AsyncMiddleware, *, api_url: str, token: str | None,
               signing_secret: str | None) -> AsyncApp:
    """An AsyncApp answering in the ack (``process_before_response=True``: no 10 ms ack polling), each
    feature binding its own listeners; every request passes ``door`` (``bot.slack.inbound.Door``) after
    Bolt's own checks, then event dedupe."""
    bolt_logger = logging.getLogger("slack_bolt.app")
    # Bolt compares its logger's own level (not the effective one) with DEBUG before formatting a debug
    # line for every middleware of every request; an unset level would format them all just to drop them.
    bolt_logger.setLevel(bolt_logger.getEffectiveLevel())
    with _token_warning_dropped(bolt_logger):
        app = _bolt(api_url, token, signing_secret, bolt_logger)
    app.use(door)
    app.use(FirstDelivery(deps.gate))
    search = ClueSearch(deps)
    people = PeopleCommands(deps)
    # Bolt tries listeners in the order they were bound, each match costing ~40 µs of kwargs injection: the
    # busiest first (commands, then link_shared, which a channel can flood), clicks after them.
    for feature in (ClueCommand(deps, search, people), LinkUnfurls(deps), EntityDetails(deps), search,
                    CardActions(deps), ClueModals(deps), people, home_feature.AppHome(deps)):
        feature.register(app)
    app.error(_on_error)
    return app


def _bolt(api_url: str, token: str | None, signing_secret: str | None, logger: logging.Logger) -> AsyncApp:
    return AsyncApp(
        # Bolt gives each request its own plain client (copying this one's URL and retry handlers) with the
        # token from ``authorize``; the door swaps in the app's own. This one holds no token.
        client=AsyncWebClient(base_url=api_url, retry_handlers=retry_handlers()),
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


class FirstDelivery(AsyncMiddleware):
    """Every Events API callback is handled once, however often Slack redelivers it (``x-slack-retry-num``):
    a copy already taken is acked with an empty 200 before any listener. Other requests pass at once."""

    def __init__(self, gate: Gate) -> None:
        self._gate = gate

    @property
    def name(self) -> str:
        return "FirstDelivery"

    async def async_process(self, *, req: AsyncBoltRequest, resp: BoltResponse,
                            next: Callable[[], Awaitable[BoltResponse]]) -> BoltResponse | None:
        if "event_id" in req.body and not await self._gate.first_delivery(req.body):
            return BoltResponse(status=200, body="")
        return await next()


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
    elif not isinstance(error, SlackCallFailed):  # logged where it was raised
        log.error("slack.listener.failed", exc_info=error, extra={"kind": kind})
    if kind == "command":
        notice = {"response_type": "ephemeral", **cards.notice_message("en", "internal_error")}
        return BoltResponse(status=200, body=json.dumps(notice), headers={"content-type": "application/json"})
    return BoltResponse(status=200, body="")
