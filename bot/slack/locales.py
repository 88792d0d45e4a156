"""The language of each person's cards: the one they chose in Home (stored), else their Slack locale
(``users.info``), cached.

Slash commands and button clicks do not carry a locale, and the ack cannot wait for a Web API call or a
database read: the first card a person gets uses the default locale while their locale is looked up in the
background; every card after that speaks their language. A known locale is answered from memory and checked
again in the background when due (the stored choice every ``choice_ttl`` seconds, so a choice made on another
instance arrives within it; Slack's every ``ttl``): ``get`` never waits and never reads the database. Needs the
``users:read`` scope; without it (``missing_scope``) Slack lookups stop and people without a choice get the
default.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import NamedTuple

from bot.domain.locales import locale_from_slack
from bot.errors import SlackCallFailed, StoreError
from bot.runtime.tasks import HOUSEKEEPING, TaskRunner
from bot.slack.webapi import SlackWebClient

log = logging.getLogger(__name__)
_FATAL_ERRORS = {"missing_scope", "not_allowed_token_type", "invalid_auth", "account_inactive", "token_revoked"}
Chosen = Callable[[str], Awaitable[str | None]]  # the person's stored choice (bot.store.people), or None


class _Known(NamedTuple):
    locale: str  # what ``get`` answers
    recheck_at: float  # after this, still answered while a background lookup runs
    slack: str | None  # Slack's locale for the person, when asked
    slack_until: float
    chosen: str | None  # their stored choice, as last read


class UserLocales:
    def __init__(self, client: SlackWebClient, runner: TaskRunner, *, default: str, enabled: bool,
                 clock: Callable[[], float], ttl: float = 6 * 3600, max_users: int = 50_000,
                 chosen: Chosen | None = None, choice_ttl: float = 60.0) -> None:
        self._client = client
        self._runner = runner
        self.default = default
        self._enabled = enabled
        self._clock = clock
        self._ttl = ttl
        self._max_users = max_users
        self._chosen = chosen
        self._choice_ttl = choice_ttl
        # user -> _Known. A plain dict, read on every /clue: a TTLCache read costs 5x as much.
        # Inserted in recheck order, so the first entry is always the one to forget.
        self._known: dict[str, _Known] = {}
        self._pending: set[str] = set()

    def get(self, user_id: str | None) -> str:
        """The user's locale if known (checked again in the background when due); otherwise the default, and a
        background lookup starts."""
        if user_id is None:
            return self.default
        known = self._known.get(user_id)
        if known is not None and known.recheck_at > self._clock():
            return known.locale
        # A full housekeeping lane refuses the lookup at once: this card speaks what is known, a later one asks again.
        if (self._enabled or self._chosen is not None) and user_id not in self._pending and \
                self._runner.spawn(self._fetch(user_id), name="slack.users_info", kind=HOUSEKEEPING):
            self._pending.add(user_id)
        return known.locale if known is not None else self.default

    def known(self, user_id: str) -> str:
        """The locale remembered for the person, else the default; never a lookup. For messages sent to many
        people at once (the morning nudge): a ``users.info`` each would outrun Slack's rate for it."""
        known = self._known.get(user_id)
        return known.locale if known is not None else self.default

    async def refreshed(self, user_id: str) -> str:
        """The person's locale looked up now (their choice just changed in Home)."""
        await self._fetch(user_id)
        return self.get(user_id)

    async def _fetch(self, user_id: str) -> None:
        try:
            known = self._known.get(user_id)
            chosen = known.chosen if known is not None else None
            if self._chosen is not None:
                try:
                    chosen = await self._chosen(user_id)
                except StoreError as exc:  # the last choice read stands; Slack's locale is still asked below
                    log.info("slack.locale.choice_unavailable", extra={"error": str(exc)[:80]})
            slack, slack_until = (known.slack, known.slack_until) if known is not None else (None, 0.0)
            if chosen is None and self._enabled and slack_until <= self._clock():
                slack = await self._slack_locale(user_id)
                slack_until = self._clock() + self._ttl if slack is not None else 0.0
            recheck_at = slack_until if chosen is None else float("inf")
            if self._chosen is not None:
                recheck_at = min(recheck_at, self._clock() + self._choice_ttl)
            self._remember(user_id, _Known(chosen or slack or self.default, recheck_at, slack, slack_until, chosen))
        finally:
            self._pending.discard(user_id)

    async def _slack_locale(self, user_id: str) -> str | None:
        try:
            response = await self._client.users_info(user=user_id, include_locale=True)
        except SlackCallFailed as exc:  # logged and counted by the client
            if exc.error in _FATAL_ERRORS:
                self._enabled = False
                log.warning("slack.locale.disabled", extra={"error": exc.error})
            return None
        user = response.get("user") or {}
        return locale_from_slack(user.get("locale"), self.default)

    def _remember(self, user_id: str, known: _Known) -> None:
        self._known.pop(user_id, None)
        if len(self._known) >= self._max_users:
            del self._known[next(iter(self._known))]
        self._known[user_id] = known
