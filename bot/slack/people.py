"""Who each Slack person is in the CRM: their Slack profile (``users.info``), the employee directory, the
stored link, and their own clues, for ``/clue me`` / ``mine``, App Home and the morning nudge.

``users.info`` gives ``profile.email`` (scope ``users:read.email``), ``profile.phone`` and ``tz``; any of them may
be absent. Profiles are remembered for ``PROFILE_TTL`` seconds: Home opened fifty times asks Slack once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cachetools import TTLCache

from bot.cache.people import DIRECTORY, DirectoryCache, OwnedCache
from bot.cache.timed import Timed
from bot.domain.people import Agenda, Employee, Match, OwnedClues, SlackProfile, agenda, match
from bot.errors import CrmError, SlackCallFailed
from bot.slack.webapi import SlackWebClient
from bot.store.alerts import Subscription
from bot.store.people import PeopleStore, PersonLink

log = logging.getLogger(__name__)

PROFILE_TTL = 600.0
MAX_PROFILES = 10_000


@dataclass(frozen=True, slots=True)
class Standing:
    """A person's link and whether the CRM still lists its user (``gone``; unknown while the CRM fails)."""

    link: PersonLink | None
    employee: Employee | None = None
    gone: bool = False


class People:
    """The personal side's reads: Slack profiles, the directory, links, and each person's agenda."""

    def __init__(self, store: PeopleStore, client: SlackWebClient, directory: DirectoryCache, owned: OwnedCache, *,
                 admin_ids: frozenset[str], crm_tz: ZoneInfo, clock: Callable[[], float],
                 wall: Callable[[], float],
                 subscriptions: Callable[[], Awaitable[list[Subscription]]] | None = None) -> None:
        self.store = store
        self.admin_ids = admin_ids
        self.crm_tz = crm_tz
        self.wall = wall
        self._client = client
        self._directory = directory
        self._owned = owned
        self._subscriptions = subscriptions
        self._profiles: TTLCache[str, SlackProfile] = TTLCache(MAX_PROFILES, PROFILE_TTL, timer=clock)

    async def profile(self, user_id: str) -> SlackProfile:
        """The person's Slack profile (remembered a while); empty when Slack does not answer."""
        known = self._profiles.get(user_id)
        if known is not None:
            return known
        try:
            answer = await self._client.users_info(user=user_id, include_locale=True)
        except SlackCallFailed:  # logged and counted by the client
            return SlackProfile(user_id)
        user = answer.get("user")
        user = user if isinstance(user, dict) else {}
        profile = user.get("profile")
        profile = profile if isinstance(profile, dict) else {}
        found = SlackProfile(user_id, email=_text(profile.get("email")), phone=_text(profile.get("phone")),
                             tz=_text(user.get("tz")))
        self._profiles[user_id] = found
        return found

    async def employees(self) -> tuple[Employee, ...]:
        return (await self._directory.get(DIRECTORY)).value

    async def find(self, user_id: str) -> Match:
        """The CRM user the person's Slack e-mail or phone names (raises the CRM's errors)."""
        profile = await self.profile(user_id)
        return match(profile, await self.employees())

    async def employee(self, sales_id: str) -> Employee | None:
        return next((e for e in await self.employees() if e.sales_id == sales_id), None)

    async def standing(self, user_id: str) -> Standing:
        """The stored link and whether its user is still in the CRM (a failing CRM: assumed still there)."""
        link = await self.store.linked(user_id)
        if link is None:
            return Standing(None)
        try:
            employee = await self.employee(link.sales_id)
        except CrmError as exc:  # the link stands, unverified
            log.info("people.directory.unavailable", extra={"error": type(exc).__name__})
            return Standing(link)
        return Standing(link, employee, gone=employee is None)

    async def owned(self, sales_id: str) -> Timed[OwnedClues]:
        return await self._owned.get(sales_id)

    async def agenda(self, user_id: str, sales_id: str, *, tz: str | None = None) -> tuple[Agenda, Timed[OwnedClues]]:
        """The person's clues in working order, "today" in their Slack time zone (else the CRM's). ``tz``: the zone
        the caller already holds (the nudge's): no ``users.info``, which a round for everyone would call at a rate
        above Slack's Tier 4."""
        owned = await self.owned(sales_id)
        name = tz if tz is not None else (await self.profile(user_id)).tz
        return agenda(owned.value, datetime.fromtimestamp(self.wall(), UTC), zone(name, self.crm_tz)), owned

    async def subscriptions_by(self, user_id: str) -> list[Subscription]:
        """The channel alerts this person set up (none without an alerts database)."""
        if self._subscriptions is None:
            return []
        return [s for s in await self._subscriptions() if s.created_by == user_id]


def zone(name: str | None, default: ZoneInfo) -> ZoneInfo:
    """The IANA zone Slack named, or ``default`` when it names none we know."""
    if not name:
        return default
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return default


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None
