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
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple


class Inbound(NamedTuple):
    """A NamedTuple: built on every request, at a third of the cost of a frozen dataclass."""

    team_id: str | None
    enterprise_id: str | None
    user_id: str | None
    channel_id: str | None
    slack_connect: bool | None = None  # an externally shared conversation; None when unknown
    response_url: str | None = None
    user_team_id: str | None = None  # the clicker's own workspace (block_actions ``user.team_id``)

    @classmethod
    def from_command(cls, command: Mapping[str, Any]) -> Inbound:
        return cls(team_id=_s(command.get("team_id")), enterprise_id=_s(command.get("enterprise_id")),
                   user_id=_s(command.get("user_id")), channel_id=_s(command.get("channel_id")),
                   response_url=_s(command.get("response_url")))

    @classmethod
    def from_action(cls, body: Mapping[str, Any]) -> Inbound:
        team, user, channel = (_m(body.get(k)) for k in ("team", "user", "channel"))
        enterprise = _m(body.get("enterprise"))
        container = _m(body.get("container"))
        external = body.get("is_ext_shared_channel")
        return cls(team_id=_s(team.get("id")) or _s(user.get("team_id")), enterprise_id=_s(enterprise.get("id")),
                   user_id=_s(user.get("id")), channel_id=_s(channel.get("id")) or _s(container.get("channel_id")),
                   slack_connect=external if isinstance(external, bool) else None,
                   response_url=_s(body.get("response_url")), user_team_id=_s(user.get("team_id")))

    @classmethod
    def from_event(cls, event: Mapping[str, Any], body: Mapping[str, Any]) -> Inbound:
        external = body.get("is_ext_shared_channel")
        return cls(team_id=_s(body.get("team_id")), enterprise_id=_s(body.get("enterprise_id")),
                   user_id=_s(event.get("user")), channel_id=_s(event.get("channel")) or _s(event.get("channel_id")),
                   slack_connect=external if isinstance(external, bool) else None)


def _s(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
