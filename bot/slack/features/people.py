"""``/clue me``, ``/clue link``, ``/clue unlink``, ``/clue mine``: who you are in the CRM, and your clues.

Never a silent guess: ``/clue me`` offers the one CRM user whose e-mail (else phone) is the person's Slack
profile's, and links only when they click Yes (the match is made again then: a forged or outdated button links
nobody). Two CRM users with that e-mail or phone, or a profile with neither, get a notice saying how to be
linked: by an admin (``CLUE_ADMIN_USER_IDS``), with ``/clue link <member ID> <salesId>``, an ``audit.person.linked``
line each. Everything is ephemeral: nothing personal is posted in a channel.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Mapping
from datetime import UTC, datetime
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.errors import BotError, StoreError
from bot.runtime.logs import AUDIT_LOGGER
from bot.slack import cards, people_cards
from bot.slack.features import Ack, FeatureDeps, Message, Respond
from bot.slack.i18n import t
from bot.slack.inbound import Inbound
from bot.slack.notices import error_key
from bot.slack.people import People
from bot.store.people import ADMIN, CONFIRMED

log = logging.getLogger(__name__)
audit = logging.getLogger(AUDIT_LOGGER)

ME, LINK, UNLINK, MINE = "me", "link", "unlink", "mine"
# A member id as typed or pasted: U012AB3CD, <@U012AB3CD>, <@U012AB3CD|name>
_MEMBER = re.compile(r"<?@?([UW][A-Z0-9]{2,20})(?:\|[^>]*)?>?")
_SALES_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class PeopleCommands:
    def __init__(self, deps: FeatureDeps) -> None:
        self._deps = deps
        self._people = deps.people

    def register(self, app: AsyncApp) -> None:
        app.action(people_cards.ACTION_ME_YES)(self.on_yes)
        app.action(people_cards.ACTION_ME_NOT_ME)(self.on_not_me)
        app.action(people_cards.ACTION_MINE_PREVIOUS)(self.on_mine_page)
        app.action(people_cards.ACTION_MINE_NEXT)(self.on_mine_page)

    def answer(self, verb: str, text: str, who: Inbound, locale: str) -> Message | asyncio.Future[Message]:
        """The ephemeral answer to one of the verbs: at once (a refusal, usage) or as a future."""
        people = self._people
        if people is None:
            return cards.notice_message(locale, "people_unavailable")
        refused = self._refused(who, locale)
        if refused is not None:
            return refused
        if verb == LINK:
            return self._link_command(people, text, who, locale)
        work: Awaitable[Message] = (self._me(people, who, locale) if verb == ME else
                                    self._unlink(people, who, locale) if verb == UNLINK else
                                    self._mine(people, who, locale, 1))
        return asyncio.ensure_future(self._guarded(work, locale))

    def _refused(self, who: Inbound, locale: str) -> Message | None:
        rule = self._deps.gate.access.check_lookup(who)
        if rule is None:
            return None
        log.info("people.access.denied", extra={"user": who.user_id, "rule": rule})
        return cards.notice_message(locale, "not_allowed", rule=rule, contact=self._contact)

    @property
    def _contact(self) -> str:
        return self._deps.gate.access.admin_contact

    @staticmethod
    async def _guarded(work: Awaitable[Message], locale: str) -> Message:
        """The answer, or the notice for a CRM or database failure (logged once)."""
        try:
            return await work
        except StoreError as exc:
            log.warning("people.store.unavailable", extra={"error": str(exc)[:80]})
            return cards.notice_message(locale, "people_unavailable")
        except BotError as exc:
            log.warning("people.crm.failed", extra={"error": type(exc).__name__, "detail": str(exc)[:120]})
            return cards.notice_message(locale, error_key(exc))

    # ------------------------------------------------------------------ /clue me

    async def _me(self, people: People, who: Inbound, locale: str) -> Message:
        user = who.user_id or ""
        standing = await people.standing(user)
        if standing.link is not None:
            link = standing.link
            key = "me_stale" if standing.gone else "me_linked"
            return cards.notice_message(locale, key, name=link.crm_name, sales_id=link.sales_id, contact=self._contact)
        found = await people.find(user)
        log.info("people.match", extra={"user": user, "outcome": found.outcome, "by": found.by})
        if found.employee is not None:
            return people_cards.match_prompt(locale, found.employee, found.by or "email")
        by = {"by": t(locale, f"people.by.{found.by}")} if found.by else {}
        return cards.notice_message(locale, f"me_{found.outcome}", contact=self._contact, **by)

    async def on_yes(self, ack: Ack, body: Mapping[str, Any], respond: Respond) -> None:
        await ack()
        who = Inbound.from_action(body)
        value = _action_value(body)
        people = self._people
        if people is None or value is None or self._refused(who, self._locale(who)) is not None:
            return
        self._deps.runner.spawn(self._confirm(people, who, value, respond), name="people.confirm")

    async def _confirm(self, people: People, who: Inbound, sales_id: str, respond: Respond) -> None:
        locale = self._locale(who)
        await self._reply(respond, await self._guarded(self._confirmed(people, who, sales_id, locale), locale))

    async def _reply(self, respond: Respond, message: Message) -> None:
        """Replace the message the click came from (an ephemeral answer of ours)."""
        await self._deps.calls.checked(respond)(replace_original=True, response_type="ephemeral", **message)

    async def _confirmed(self, people: People, who: Inbound, sales_id: str, locale: str) -> Message:
        user = who.user_id or ""
        found = await people.find(user)  # again: the button's value is only what we offered, never trusted
        if found.employee is None or found.employee.sales_id != sales_id:
            log.info("people.confirm.changed", extra={"user": user, "outcome": found.outcome})
            return cards.notice_message(locale, "me_changed")
        await people.store.link(user, who.team_id or "", sales_id, found.employee.name, how=CONFIRMED, linked_by=user)
        log.info("people.linked", extra={"user": user, "how": CONFIRMED, "by": found.by})
        return cards.notice_message(locale, "me_confirmed", name=found.employee.name)

    async def on_not_me(self, ack: Ack, body: Mapping[str, Any], respond: Respond) -> None:
        await ack()
        who = Inbound.from_action(body)
        log.info("people.match.rejected", extra={"user": who.user_id})
        message = cards.notice_message(self._locale(who), "me_not_me", contact=self._contact)
        self._deps.runner.spawn(self._reply(respond, message), name="people.not_me")

    # ------------------------------------------------------------------ /clue link, /clue unlink

    def _link_command(self, people: People, text: str, who: Inbound, locale: str) -> Message | asyncio.Future[Message]:
        if who.user_id not in people.admin_ids:
            log.info("people.link.refused", extra={"user": who.user_id})
            return cards.notice_message(locale, "link_refused", contact=self._contact)
        parts = text.split()
        member = _MEMBER.fullmatch(parts[0]) if len(parts) == 2 else None
        if member is None or not _SALES_ID.fullmatch(parts[1]):
            log.info("people.link.usage", extra={"user": who.user_id, "words": len(parts)})
            return cards.notice_message(locale, "link_usage")
        return asyncio.ensure_future(self._guarded(self._admin_link(people, who, member.group(1), parts[1], locale),
                                                   locale))

    async def _admin_link(self, people: People, who: Inbound, user: str, sales_id: str, locale: str) -> Message:
        employee = await people.employee(sales_id)
        if employee is None:
            return cards.notice_message(locale, "link_unknown_sales", sales_id=sales_id)
        await people.store.link(user, who.team_id or "", sales_id, employee.name, how=ADMIN,
                                linked_by=who.user_id or "")
        audit.info("audit.person.linked", extra={
            "admin": who.user_id, "user": user, "team": who.team_id, "sales_id": sales_id,
            "at": datetime.fromtimestamp(self._deps.wall(), UTC).isoformat()})
        return cards.notice_message(locale, "linked_by_admin", user=user, name=employee.name, sales_id=sales_id)

    async def _unlink(self, people: People, who: Inbound, locale: str) -> Message:
        gone = await people.store.unlink(who.user_id or "")
        if gone:
            log.info("people.unlinked", extra={"user": who.user_id})
        return cards.notice_message(locale, "unlinked" if gone else "unlink_none")

    # ------------------------------------------------------------------ /clue mine

    async def _mine(self, people: People, who: Inbound, locale: str, page_no: int) -> Message:
        user = who.user_id or ""
        standing = await people.standing(user)
        link = standing.link
        if link is None:
            return cards.notice_message(locale, "not_linked")
        if standing.gone:
            return cards.notice_message(locale, "me_stale", name=link.crm_name, sales_id=link.sales_id,
                                        contact=self._contact)
        ordered, owned = await people.agenda(user, link.sales_id)
        freshness = people_cards.Freshness(datetime.fromtimestamp(owned.fetched_at, UTC), owned.stale)
        log.info("people.mine", extra={"user": user, "page": page_no, "clues": len(ordered.clues),
                                       "stale": owned.stale})
        return people_cards.mine_message(ordered, page_no, freshness, datetime.fromtimestamp(people.wall(), UTC),
                                         locale)

    async def on_mine_page(self, ack: Ack, body: Mapping[str, Any], respond: Respond) -> None:
        await ack()
        who = Inbound.from_action(body)
        value = _action_value(body)
        people = self._people
        if people is None or value is None or not value.isdigit() or not 1 <= int(value) <= 10_000:
            return
        if self._refused(who, self._locale(who)) is not None:
            return
        self._deps.runner.spawn(self._turn_page(people, who, int(value), respond), name="people.mine.page")

    async def _turn_page(self, people: People, who: Inbound, page_no: int, respond: Respond) -> None:
        locale = self._locale(who)
        await self._reply(respond, await self._guarded(self._mine(people, who, locale, page_no), locale))

    def _locale(self, who: Inbound) -> str:
        return self._deps.gate.locales.get(who.user_id)


def _action_value(body: Mapping[str, Any]) -> str | None:
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], Mapping):
        return None
    value = actions[0].get("value")
    return value if isinstance(value, str) and _SALES_ID.fullmatch(value) else None

