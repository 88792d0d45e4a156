"""``/clue subscribe [filters]``, ``/clue subscriptions``, ``/clue unsubscribe n``: new-clue alerts in a channel.

Subscribing follows the lookup allow lists, plus ``CLUE_SUBSCRIBE_USER_IDS`` where set, and the Slack
Connect rule of a shared card (alerts are read by the whole channel; an unknown answer refuses). The bot
must be able to post: when ``conversations.info`` says it is not a member, the answer says how to add it.
Listing and removing need the lookup rules only. A database that does not answer gets a clear notice;
lookups are not affected.
"""

from __future__ import annotations

import asyncio
import logging

from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.text import mrkdwn_value
from bot.errors import SlackCallFailed, StoreError
from bot.slack import cards
from bot.slack.features import AlertDeps, FeatureDeps, Message
from bot.slack.gate import SHARE, Refusal
from bot.slack.i18n import t
from bot.slack.inbound import Inbound
from bot.store.alerts import Subscription
from bot.store.filters import FilterError, describe, parse_filters

log = logging.getLogger(__name__)

SUBSCRIBE, LIST, UNSUBSCRIBE = "subscribe", "subscriptions", "unsubscribe"
MEMBERSHIP_WAIT = 1.0  # seconds the ack waits for conversations.info; unknown membership does not refuse


class AlertCommands:
    def __init__(self, deps: FeatureDeps) -> None:
        self._deps = deps
        self._alerts = deps.alerts

    async def answer(self, verb: str, text: str, who: Inbound, locale: str) -> Message:
        """The ephemeral answer to one alerts command."""
        if self._alerts is None:
            return cards.notice_message(locale, "alerts_unavailable")
        try:
            if verb == SUBSCRIBE:
                return await self._subscribe(self._alerts, text, who, locale)
            refused = self._refused(who, locale, rule=None)
            if refused is not None:
                return refused
            if verb == LIST:
                return await self._list(self._alerts, who, locale)
            return await self._unsubscribe(self._alerts, text, who, locale)
        except StoreError as exc:
            log.warning("alerts.command.unavailable", extra={"verb": verb, "error": str(exc)[:80]})
            return cards.notice_message(locale, "alerts_unavailable")

    async def _subscribe(self, alerts: AlertDeps, text: str, who: Inbound, locale: str) -> Message:
        # Share's rule: alerts are posted for the whole channel, never into Slack Connect unless allowed.
        admitted, _ = await self._deps.cards.admit(who, SHARE, cost=0)
        rule = str(admitted.args["rule"]) if isinstance(admitted, Refusal) and admitted.key == "not_allowed" else None
        if alerts.subscriber_ids and who.user_id not in alerts.subscriber_ids:
            rule = rule or "subscriber"
        refused = self._refused(who, locale, rule=rule)
        if refused is not None:
            return refused
        try:
            filters = parse_filters(text)
        except FilterError as exc:
            return cards.notice_message(locale, "bad_filter", text=exc.token)
        if await self._not_a_member(alerts.client, who.channel_id or ""):
            return cards.notice_message(locale, "not_in_channel")
        subscription = await alerts.store.subscribe(who.team_id or "", who.channel_id or "", filters,
                                                    who.user_id or "")
        number = [s.id for s in await alerts.store.subscriptions(who.channel_id)].index(subscription.id) + 1
        log.info("alerts.subscribed", extra={"channel": who.channel_id, "user": who.user_id,
                                              "subscription": subscription.id})
        return cards.notice_message(locale, "subscribed", what=_what(subscription, locale), number=number)

    async def _list(self, alerts: AlertDeps, who: Inbound, locale: str) -> Message:
        listed = await alerts.store.subscriptions(who.channel_id or "")
        if not listed:
            return cards.notice_message(locale, "subscriptions_none")
        lines = []
        for number, subscription in enumerate(listed, 1):
            line = f"{number}. {mrkdwn_value(_what(subscription, locale), 300)} · <@{subscription.created_by}>"
            if subscription.disabled_reason:
                reason = t(locale, f"alerts.reason.{subscription.disabled_reason}")
                line += " · " + t(locale, "alerts.disabled", reason=reason)
            lines.append(line)
        text = t(locale, "notice.subscriptions", lines="\n".join(lines))
        return {"text": text, "blocks": [{"type": "section", "block_id": cards.BLOCK_NOTICE,
                                          "text": {"type": "mrkdwn", "text": text, "verbatim": True}}]}

    async def _unsubscribe(self, alerts: AlertDeps, text: str, who: Inbound, locale: str) -> Message:
        number_text = text.strip()
        if not (number_text.isascii() and number_text.isdigit() and len(number_text) <= 4):
            return cards.notice_message(locale, "unsubscribe_usage")
        gone = await alerts.store.unsubscribe(who.channel_id or "", int(number_text))
        if gone is None:
            return cards.notice_message(locale, "unsubscribe_unknown", number=int(number_text))
        log.info("alerts.unsubscribed", extra={"channel": who.channel_id, "user": who.user_id, "subscription": gone.id})
        return cards.notice_message(locale, "unsubscribed", number=int(number_text), what=_what(gone, locale))

    def _refused(self, who: Inbound, locale: str, *, rule: str | None) -> Message | None:
        rule = rule or self._deps.gate.access.check_lookup(who)
        if rule is None:
            return None
        log.info("alerts.access.denied", extra={"user": who.user_id, "channel": who.channel_id, "rule": rule})
        return cards.notice_message(locale, "subscribe_refused", rule=rule,
                                    contact=self._deps.gate.access.admin_contact)

    @staticmethod
    async def _not_a_member(client: AsyncWebClient, channel_id: str) -> bool:
        """True only when Slack says the bot is not in the channel (unknown: let delivery find out)."""
        try:
            answer = await asyncio.wait_for(client.conversations_info(channel=channel_id), MEMBERSHIP_WAIT)
        except (SlackCallFailed, TimeoutError):
            return False
        channel = answer.get("channel")
        return isinstance(channel, dict) and channel.get("is_member") is False


def _what(subscription: Subscription, locale: str) -> str:
    """What a subscription alerts, as plain text (escaped by ``notice_message``, or by the caller)."""
    if not subscription.filters:
        return t(locale, "alerts.every_clue")
    return t(locale, "alerts.matching", filters=describe(subscription.filters))
