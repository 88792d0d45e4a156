"""App Home: ``app_home_opened`` → ``views.publish`` of the person's own Home tab.

The event is acked at once and the view is published from a task. Home shows who the person is in the CRM (or
how to link), their overdue and due-today counts with the first page of their clues, the channel alerts they set
up, and their settings: the language (a static_select: Slack's own or one we speak, stored and used for
everything said to them) and the morning nudge (a static_select of morning times; its time zone follows a Slack
zone changed since). Their
clues come from the people cache: however often Home opens, at most one CRM read per person per minute; while the
CRM fails, the last answer is shown with the stale note, and with nothing to show, a line says so. Nothing here is
posted in a channel.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.locales import LOCALES
from bot.domain.text import mrkdwn_value, safe_url
from bot.errors import CrmError, SlackCallFailed, StoreError
from bot.slack import cards, people_cards
from bot.slack.features import Ack, FeatureDeps
from bot.slack.features.alerts import described
from bot.slack.i18n import t
from bot.slack.inbound import Inbound
from bot.slack.people import People
from bot.store.people import PersonLink

log = logging.getLogger(__name__)

EVENT = "app_home_opened"
_TIME = re.compile(r"(?:[01][0-9]|2[0-3]):[0-5][0-9]")


class AppHome:
    def __init__(self, deps: FeatureDeps) -> None:
        self._deps = deps
        self._people = deps.people

    def register(self, app: AsyncApp) -> None:
        app.event(EVENT)(self.on_home_opened)
        app.action(people_cards.ACTION_NUDGE_TIME)(self.on_nudge)
        app.action(people_cards.ACTION_NUDGE_OFF)(self.on_nudge)
        app.action(people_cards.ACTION_LANGUAGE)(self.on_language)

    async def on_home_opened(self, event: Mapping[str, Any], body: Mapping[str, Any], client: AsyncWebClient) -> None:
        if event.get("tab") not in (None, "home"):  # the Messages tab opened: nothing to publish
            return
        who = Inbound.from_event(event, body)._replace(channel_id=None)
        if who.user_id is None or self._refused(who):
            return
        self._deps.runner.spawn(self.publish(who, client), name="home.publish")

    async def on_nudge(self, ack: Ack, body: Mapping[str, Any], client: AsyncWebClient) -> None:
        """Morning nudge on at the time picked (in the person's Slack time zone) or off; Home is republished."""
        await ack()
        clicked = self._clicked(body)
        if clicked is None:
            return
        people, who, action = clicked
        at = _picked(action) if action.get("action_id") == people_cards.ACTION_NUDGE_TIME else None
        if action.get("action_id") == people_cards.ACTION_NUDGE_TIME and not (at and _TIME.fullmatch(at)):
            return
        self._deps.runner.spawn(self._set_nudge(people, who, at, client), name="home.nudge")

    async def on_language(self, ack: Ack, body: Mapping[str, Any], client: AsyncWebClient) -> None:
        """The language picked (or Slack's own again): stored, used for everything said to the person from now
        on, and Home republished in it."""
        await ack()
        clicked = self._clicked(body)
        if clicked is None:
            return
        people, who, action = clicked
        picked = _picked(action)
        if picked != people_cards.LANGUAGE_SLACK and picked not in LOCALES:
            return
        locale = None if picked == people_cards.LANGUAGE_SLACK else picked
        self._deps.runner.spawn(self._set_language(people, who, locale, client), name="home.language")

    def _clicked(self, body: Mapping[str, Any]) -> tuple[People, Inbound, Mapping[str, Any]] | None:
        """The person who clicked in their Home and the action; None without a people store, or refused."""
        who = Inbound.from_action(body)._replace(channel_id=None)
        actions = body.get("actions")
        action = actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], Mapping) else {}
        if who.user_id is None or self._people is None or self._refused(who):
            return None
        return self._people, who, action

    async def _set_nudge(self, people: People, who: Inbound, at: str | None, client: AsyncWebClient) -> None:
        user = who.user_id or ""
        tz = (await people.profile(user)).tz if at else None
        if await _saved(people.store.set_nudge(user, at, tz), "people.nudge.set", user=user, at=at, tz=tz):
            await self.publish(who, client)

    async def _set_language(self, people: People, who: Inbound, locale: str | None, client: AsyncWebClient) -> None:
        user = who.user_id or ""
        if await _saved(people.store.set_locale(user, locale), "people.locale.set", user=user, locale=locale):
            await self._deps.gate.locales.refreshed(user)  # this instance's answers speak it from now on
            await self.publish(who, client)

    def _refused(self, who: Inbound) -> bool:
        """Home is the person's own: the workspace and people allow lists apply (no conversation to check)."""
        access = self._deps.gate.access
        rule = access.check_team(who) or ("user" if access.allowed_user_ids and who.user_id
                                          not in access.allowed_user_ids else None)
        if rule is not None:
            log.info("home.access.denied", extra={"user": who.user_id, "rule": rule})
        return rule is not None

    async def publish(self, who: Inbound, client: AsyncWebClient) -> None:
        """Publish the person's Home view (what is known: a failing CRM or database is said in it)."""
        user = who.user_id or ""
        locale = self._deps.gate.locales.get(user)
        people = self._people
        if people is None:
            view = {"type": "home", "blocks": cards.notice_message(locale, "people_unavailable")["blocks"]}
        else:
            try:
                view = people_cards.home_view(await self._state(people, user, locale))
            except StoreError as exc:
                log.warning("people.store.unavailable", extra={"error": str(exc)[:80]})
                view = {"type": "home", "blocks": cards.notice_message(locale, "people_unavailable")["blocks"]}
        try:
            await client.views_publish(user_id=user, view=view)
        except SlackCallFailed:
            return  # logged and counted by the client

    def _recent(self, user: str, locale: str) -> tuple[str, ...]:
        """The person's recent lookups as lines: the clue's name (or "Clue 8") linking to the CRM, and its id."""
        lines = []
        for clue_id, name in self._deps.gate.recent.of(user):
            title = mrkdwn_value(name or "", 80) or t(locale, "clue.title", id=clue_id)
            url = safe_url(self._deps.matcher.url_for(clue_id))
            shown = f"<{url}|{title}>" if url else title
            lines.append(f"{shown} · `{clue_id}`")
        return tuple(lines)

    @staticmethod
    async def _follow_zone(people: People, link: PersonLink) -> PersonLink:
        """The nudge follows the person's Slack time zone: a zone changed since it was set is taken over now."""
        tz = (await people.profile(link.user_id)).tz
        if tz is None or tz == link.tz:
            return link
        await people.store.set_nudge(link.user_id, link.nudge_at, tz)
        log.info("people.nudge.zone_changed", extra={"user": link.user_id, "tz": tz})
        return replace(link, tz=tz)

    async def _state(self, people: People, user: str, locale: str) -> people_cards.HomeState:
        now = datetime.fromtimestamp(self._deps.wall(), UTC)
        contact = self._deps.gate.access.admin_contact
        standing = await people.standing(user)
        # The choice on the row just read: this instance's memory of it may be up to a minute old.
        locale = standing.link.locale if standing.link is not None and standing.link.locale else locale
        mine = await people.subscriptions_by(user)
        listed = tuple(f"<#{s.channel_id}> · {mrkdwn_value(described(s, locale), 300)}" for s in mine)
        state = people_cards.HomeState(locale=locale, contact=contact, now=now, subscriptions=listed,
                                       subscription_count=len(mine), recent=self._recent(user, locale))
        link = standing.link
        if link is None:
            return state
        if link.nudge_at is not None:
            link = await self._follow_zone(people, link)
        state = replace(state, name=link.crm_name, sales_id=link.sales_id, gone=standing.gone, nudge_at=link.nudge_at,
                        tz=link.tz, chosen_locale=link.locale)
        if standing.gone:
            return state
        try:
            ordered, owned = await people.agenda(user, link.sales_id)
        except CrmError as exc:  # nothing recent to show: Home says so
            log.info("home.crm.failed", extra={"user": user, "error": type(exc).__name__})
            return state
        freshness = people_cards.Freshness(datetime.fromtimestamp(owned.fetched_at, UTC), owned.stale)
        return replace(state, agenda=ordered, freshness=freshness)


def _picked(action: Mapping[str, Any]) -> str | None:
    """The value of the option picked in a static_select (block_actions' ``selected_option``)."""
    option = action.get("selected_option")
    value = option.get("value") if isinstance(option, Mapping) else None
    return value if isinstance(value, str) else None


async def _saved(write: Awaitable[bool], event: str, **extra: object) -> bool:
    """Whether a setting was written (a database that fails is logged, and Home is left as it is)."""
    try:
        changed = await write
    except StoreError as exc:
        log.warning("people.store.unavailable", extra={"error": str(exc)[:80]})
        return False
    log.info(event, extra={**extra, "changed": changed})
    return True
