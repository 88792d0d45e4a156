"""Who may look up clues where: workspace, user and channel allow lists, shared-channel rules.

Each check returns the name of the rule that refused (shown to the person, logged for the operator)
or None when allowed. An empty allow list means "everyone".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple


class Place(NamedTuple):
    """Who asked, from where, as Slack told us (a NamedTuple: built on every request, at a third of the
    cost of a frozen dataclass)."""

    team_id: str | None
    enterprise_id: str | None
    user_id: str | None
    channel_id: str | None
    shared: bool | None = None  # Slack Connect / externally shared conversation; None when unknown

    @classmethod
    def from_command(cls, command: Mapping[str, Any]) -> Place:
        return cls(team_id=_s(command.get("team_id")), enterprise_id=_s(command.get("enterprise_id")),
                   user_id=_s(command.get("user_id")), channel_id=_s(command.get("channel_id")))

    @classmethod
    def from_action(cls, body: Mapping[str, Any]) -> Place:
        team, user, channel = (_m(body.get(k)) for k in ("team", "user", "channel"))
        enterprise = _m(body.get("enterprise"))
        container = _m(body.get("container"))
        return cls(team_id=_s(team.get("id")) or _s(user.get("team_id")), enterprise_id=_s(enterprise.get("id")),
                   user_id=_s(user.get("id")), channel_id=_s(channel.get("id")) or _s(container.get("channel_id")),
                   shared=body.get("is_ext_shared_channel") if isinstance(body.get("is_ext_shared_channel"), bool)
                   else None)

    @classmethod
    def from_event(cls, event: Mapping[str, Any], body: Mapping[str, Any]) -> Place:
        shared = body.get("is_ext_shared_channel")
        return cls(team_id=_s(body.get("team_id")), enterprise_id=_s(body.get("enterprise_id")),
                   user_id=_s(event.get("user")), channel_id=_s(event.get("channel")) or _s(event.get("channel_id")),
                   shared=shared if isinstance(shared, bool) else None)


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    allowed_team_ids: frozenset[str] = frozenset()
    allowed_user_ids: frozenset[str] = frozenset()
    allowed_channel_ids: frozenset[str] = frozenset()
    unfurl_channel_ids: frozenset[str] = frozenset()
    allow_shared_channels: bool = False
    admin_contact: str = "your Slack admin"

    def check_team(self, place: Place) -> str | None:
        if not self.allowed_team_ids:
            return None
        if place.team_id in self.allowed_team_ids or place.enterprise_id in self.allowed_team_ids:
            return None
        return "workspace"

    def check_lookup(self, place: Place) -> str | None:
        if (refused := self.check_team(place)) is not None:
            return refused
        if self.allowed_user_ids and place.user_id not in self.allowed_user_ids:
            return "user"
        if self.allowed_channel_ids and place.channel_id not in self.allowed_channel_ids:
            return "channel"
        return None

    def check_unfurl(self, place: Place) -> str | None:
        # An unfurl is a lookup by the person who posted the link (or clicked Refresh on it).
        if (refused := self.check_lookup(place)) is not None:
            return refused
        if self.unfurl_channel_ids and place.channel_id not in self.unfurl_channel_ids:
            return "unfurl_channel"
        if place.shared and not self.allow_shared_channels:
            return "shared_channel"
        return None

    def check_share(self, place: Place) -> str | None:
        if (refused := self.check_lookup(place)) is not None:
            return refused
        if place.shared and not self.allow_shared_channels:
            return "shared_channel"
        return None


def _s(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
