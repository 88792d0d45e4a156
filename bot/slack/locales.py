"""The language of each person's cards, from their Slack locale (``users.info``), cached.

Slash commands and button clicks do not carry a locale, and the ack cannot wait for a Web API call:
the first card a person gets uses the default locale while their locale is fetched in the
background; every card after that speaks their language. Needs the ``users:read`` scope; without
it (``missing_scope``) lookups stop and everyone gets the default.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.domain.locales import locale_from_slack
from bot.errors import SlackCallFailed
from bot.runtime.tasks import HOUSEKEEPING, TaskRunner
from bot.slack.webapi import SlackWebClient

log = logging.getLogger(__name__)
_FATAL_ERRORS = {"missing_scope", "not_allowed_token_type", "invalid_auth", "account_inactive", "token_revoked"}


class UserLocales:
    def __init__(self, client: SlackWebClient, runner: TaskRunner, *, default: str, enabled: bool,
                 clock: Callable[[], float], ttl: float = 6 * 3600, max_users: int = 50_000) -> None:
        self._client = client
        self._runner = runner
        self.default = default
        self._enabled = enabled
        self._clock = clock
        self._ttl = ttl
        self._max_users = max_users
        # user -> (locale, expires). A plain dict, read on every /clue: a TTLCache read costs 5x as much.
        # Inserted in expiry order, so the first entry is always the one to forget.
        self._known: dict[str, tuple[str, float]] = {}
        self._pending: set[str] = set()

    def get(self, user_id: str | None) -> str:
        """The user's locale if known; otherwise the default, and a background lookup starts."""
        if user_id is None:
            return self.default
        known = self._known.get(user_id)
        if known is not None and known[1] > self._clock():
            return known[0]
        # A full housekeeping lane refuses the lookup at once: this card speaks the default, a later one asks again.
        if self._enabled and user_id not in self._pending and \
                self._runner.spawn(self._fetch(user_id), name="slack.users_info", kind=HOUSEKEEPING):
            self._pending.add(user_id)
        return self.default

    async def _fetch(self, user_id: str) -> None:
        try:
            response = await self._client.users_info(user=user_id, include_locale=True)
            user = response.get("user") or {}
            self._remember(user_id, locale_from_slack(user.get("locale"), self.default))
        except SlackCallFailed as exc:  # logged and counted by the client
            if exc.error in _FATAL_ERRORS:
                self._enabled = False
                log.warning("slack.locale.disabled", extra={"error": exc.error})
        finally:
            self._pending.discard(user_id)

    def _remember(self, user_id: str, locale: str) -> None:
        self._known.pop(user_id, None)
        if len(self._known) >= self._max_users:
            del self._known[next(iter(self._known))]
        self._known[user_id] = (locale, self._clock() + self._ttl)
