"""Who sent a Slack request and from where, read once for every payload kind.

Slash commands, ``block_actions`` and Events API callbacks each carry the user, team, enterprise,
channel and ``response_url`` in their own places; ``Inbound`` answers for all of them so no listener
digs in payloads. Values are taken only when they have the documented type (anything else reads as
unknown). ``slack_connect`` (an externally shared conversation) is known only where Slack says so: Events API
callbacks carry ``is_ext_shared_channel``; commands and clicks do not, and read as None (unknown) until the
Gate asks ``conversations.info`` (``bot.slack.conversations``).

In a click, ``team`` is the workspace the app is installed in (and where the click happened); the clicker's
own workspace is ``user.team_id``, which differs for someone from another organisation in a Slack Connect
channel. ``user_team_id`` keeps it apart so the team allow list can check the person, not only the place.

A bot token sees only conversations the app was added to: ``conversations.info`` answers
``channel_not_found`` for most direct messages, group DMs and private channels. ``conversation_hidden``
says so (the rules still fail closed, but the notice can say why), and ``direct_message`` is what the payload
itself says about the place (``channel_name`` ``directmessage``, or a ``D`` conversation id).

``Door`` is the Bolt middleware every request passes after Bolt's signature check: it hands listeners the
app's own Web API client (``bot.slack.webapi.SlackWebClient``), accepts a ``response_url`` only on Slack's
hosts, ignores a replayed interaction, and counts each interaction in ``cluebot_interactions``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.runtime.metrics import Metrics
from bot.slack.webapi import SlackWebClient

log = logging.getLogger(__name__)

DIRECT_MESSAGE = "directmessage"  # the channel name Slack sends for a 1:1 DM
SLACK_RESPONSE_HOST = "hooks.slack.com"
SLACK_API_HOST = "slack.com"
REPLAY_KEY_PREFIX = "replay:"
# Slack's signature accepts a timestamp up to 300 s either side of now: the same signed bytes can come back
# for at most 600 s after the first copy. Keys held in one process (without Redis) at most:
REPLAY_WINDOW_SECONDS = 600.0
MAX_REPLAY_KEYS = 20_000  # ~6 MiB held at most (TTLCache entries); only Slack can sign new keys
HALT_LOG_WINDOW = 60.0  # seconds between two log lines about one kind of halt
ACCEPTED = "accepted"
REPLAYED = "replayed"
FOREIGN_RESPONSE_URL = "foreign_response_url"
EVENT = "event"
_KINDS = {"block_actions": "action", "block_suggestion": "suggestion", "shortcut": "shortcut",
          "message_action": "shortcut", "view_submission": "view", "view_closed": "view",
          "event_callback": EVENT, "url_verification": EVENT}
REPLAYABLE = frozenset({"action", "shortcut", "view"})  # interactions whose effects reach others
Origin = tuple[str, str, int]


class Inbound(NamedTuple):
    """A NamedTuple: built on every request, at a third of the cost of a frozen dataclass."""

    team_id: str | None
    enterprise_id: str | None
    user_id: str | None
    channel_id: str | None
    slack_connect: bool | None = None  # an externally shared conversation; None when unknown
    response_url: str | None = None
    user_team_id: str | None = None  # the clicker's own workspace (block_actions ``user.team_id``)
    direct_message: bool = False  # the payload says the conversation is a 1:1 DM
    conversation_hidden: bool = False  # Slack told the app it cannot see the conversation (channel_not_found)

    @classmethod
    def from_command(cls, command: Mapping[str, Any]) -> Inbound:
        channel_id = _s(command.get("channel_id"))
        return cls(team_id=_s(command.get("team_id")), enterprise_id=_s(command.get("enterprise_id")),
                   user_id=_s(command.get("user_id")), channel_id=channel_id,
                   response_url=_s(command.get("response_url")),
                   direct_message=_direct_message(channel_id, command.get("channel_name")))

    @classmethod
    def from_action(cls, body: Mapping[str, Any]) -> Inbound:
        team, user, channel = (_m(body.get(k)) for k in ("team", "user", "channel"))
        enterprise = _m(body.get("enterprise"))
        container = _m(body.get("container"))
        external = body.get("is_ext_shared_channel")
        channel_id = _s(channel.get("id")) or _s(container.get("channel_id"))
        # An Enterprise Grid org: top-level ``enterprise`` in newer payloads, ``team.enterprise_id`` in others
        # (Slack's published global shortcut and view_submission carry only the latter).
        enterprise_id = _s(enterprise.get("id")) or _s(team.get("enterprise_id"))
        return cls(team_id=_s(team.get("id")) or _s(user.get("team_id")), enterprise_id=enterprise_id,
                   user_id=_s(user.get("id")), channel_id=channel_id,
                   slack_connect=external if isinstance(external, bool) else None,
                   response_url=_s(body.get("response_url")), user_team_id=_s(user.get("team_id")),
                   direct_message=_direct_message(channel_id, channel.get("name")))

    @classmethod
    def from_event(cls, event: Mapping[str, Any], body: Mapping[str, Any]) -> Inbound:
        external = body.get("is_ext_shared_channel")
        return cls(team_id=_s(body.get("team_id")), enterprise_id=_s(body.get("enterprise_id")),
                   user_id=_s(event.get("user")), channel_id=_s(event.get("channel")) or _s(event.get("channel_id")),
                   slack_connect=external if isinstance(external, bool) else None)


def _direct_message(channel_id: str | None, name: Any) -> bool:
    return name == DIRECT_MESSAGE or (channel_id or "").startswith("D")


class Door(AsyncMiddleware):
    """Bolt middleware for every request, after Bolt's own checks (signature, authorization).

    - ``client``: listeners get the app's ``SlackWebClient`` (Bolt's per-request copy would be a plain
      ``AsyncWebClient``, whose failures nobody counts).
    - ``response_url`` is a credential Slack hands over, and Bolt posts to it as given: an interaction whose
      ``response_url`` is not on one of ``response_origins`` (scheme, host, port) is not handled.
    - A signed request stays valid for five minutes, so whoever captured a click could send it again and
      repeat its effect on others (Share posts to the channel again, Reveal writes to the audit log): the same
      signed bytes (timestamp and body) of a click, shortcut or view are handled once (``seen``: the fleet's
      deduper with Redis). Commands and type-ahead suggestions are answered only to whoever sends them, who
      could read the first answer as well, so they are not held (and the ack path stays free of I/O);
      events are left to the event-id dedupe, since Slack redelivers them on purpose.
    A halted interaction gets an empty 200 (nothing to tell a replayer) and one log line per kind of halt and
    minute; every interaction is counted by kind and outcome.
    """

    def __init__(self, client: SlackWebClient, *, response_origins: frozenset[Origin],
                 seen: Callable[[str], Awaitable[bool]], metrics: Metrics, monotonic: Callable[[], float]) -> None:
        self._client = client
        self._origins = response_origins
        # The usual URL starts with an allowed origin and a slash: accepted without parsing it.
        self._prefixes = tuple(f"{scheme}://{host}{_port_text(scheme, port)}/"
                               for scheme, host, port in response_origins)
        self._seen = seen
        self._count = metrics.interactions.inc
        self._monotonic = monotonic
        self._logged_at: dict[str, float] = {}

    async def async_process(self, *, req: AsyncBoltRequest, resp: BoltResponse,
                            next: Callable[[], Awaitable[BoltResponse]]) -> BoltResponse | None:
        req.context["client"] = self._client
        body = req.body
        kind = interaction_kind(body)
        outcome = ACCEPTED if kind == EVENT else await self._verdict(req, body, kind)
        self._count(kind or "other", outcome)
        if outcome == ACCEPTED:
            return await next()
        self._halted(kind or "other", outcome)
        return BoltResponse(status=200, body="")

    async def _verdict(self, req: AsyncBoltRequest, body: Mapping[str, Any], kind: str | None) -> str:
        url = body.get("response_url")
        if url is not None and not (isinstance(url, str) and url.startswith(self._prefixes)) \
                and response_origin(url) not in self._origins:
            return FOREIGN_RESPONSE_URL
        timestamp = req.headers.get("x-slack-request-timestamp")
        if kind in REPLAYABLE and timestamp:  # Socket Mode requests are not signed, nor sent by anyone else
            signed = f"{timestamp[0]}:{req.raw_body}".encode()
            if await self._seen(REPLAY_KEY_PREFIX + hashlib.blake2b(signed, digest_size=16).hexdigest()):
                return REPLAYED
        return ACCEPTED

    def _halted(self, kind: str, outcome: str) -> None:
        now = self._monotonic()
        last = self._logged_at.get(outcome)
        if last is None or now - last >= HALT_LOG_WINDOW:
            self._logged_at[outcome] = now
            log.info("slack.interaction.halted", extra={"kind": kind, "outcome": outcome})


def interaction_kind(body: Mapping[str, Any]) -> str | None:
    """``command``, ``action``, ``suggestion``, ``shortcut``, ``view`` or ``event``; None for anything else."""
    if "command" in body:
        return "command"
    return _KINDS.get(str(body.get("type")))


def response_origin(url: Any) -> Origin | None:
    """(scheme, host, port) of a URL, or None when it is not an http(s) URL."""
    if not isinstance(url, str):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or (443 if scheme == "https" else 80)


def _port_text(scheme: str, port: int) -> str:
    return "" if port == (443 if scheme == "https" else 80) else f":{port}"


def response_origins(api_url: str) -> frozenset[Origin]:
    """Where a ``response_url`` may point: Slack's hooks host; and where the Web API is configured to be
    when that is not Slack's (a fake Slack in the playground and tests, or a proxy the bot token already goes
    through), since that is where Slack's answers come from."""
    origins = {("https", SLACK_RESPONSE_HOST, 443)}
    api = response_origin(api_url)
    if api is not None and api[1] != SLACK_API_HOST:
        origins.add(api)
    return frozenset(origins)


def _s(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
