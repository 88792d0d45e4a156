"""``/clue subscribe [filters]``, ``/clue subscriptions``, ``/clue unsubscribe n``: new-clue alerts in a channel;
``/clue watch 8``, ``/clue watches``, ``/clue unwatch 8`` (and the Watch button): a clue's changes replied there.

Subscribing and watching follow the lookup allow lists, plus ``CLUE_SUBSCRIBE_USER_IDS`` where set, and the
Slack Connect rule of a shared card (the whole channel reads what is posted; an unknown answer refuses). The
bot must be able to post: when ``conversations.info`` says it is not a member, the answer says how to add it.
Listing and removing need the lookup rules only. A database that does not answer gets a clear notice;
lookups are not affected.
"""

from __future__ import annotations

import asyncio
import logging

from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.changes import Snapshot
from bot.domain.ids import parse_clue_id
from bot.domain.text import mrkdwn_value
from bot.errors import InvalidClueId, SlackCallFailed, StoreError
from bot.slack import cards
from bot.slack.features import AlertDeps, FeatureDeps, Message
from bot.slack.gate import SHARE, Refusal
from bot.slack.i18n import t
from bot.slack.inbound import Inbound
from bot.store.alerts import Subscription
from bot.store.filters import FilterError, describe, parse_filters
from bot.store.watches import Watch

log = logging.getLogger(__name__)

SUBSCRIBE, LIST, UNSUBSCRIBE = "subscribe", "subscriptions", "unsubscribe"
WATCH, WATCHES, UNWATCH = "watch", "watches", "unwatch"
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
            if verb == WATCH:
                clue_id = self._clue_id(text)
                if clue_id is None:
                    return cards.notice_message(locale, "watch_usage")
                return await self.watch(who, clue_id, None, locale)
            refused = self._refused(who, locale, rule=None)
            if refused is not None:
                return refused
            if verb == LIST:
                return await self._list(self._alerts, who, locale)
            if verb == WATCHES:
                return await self._watches(self._alerts, who, locale)
            if verb == UNWATCH:
                return await self._unwatch(self._alerts, text, who, locale)
            return await self._unsubscribe(self._alerts, text, who, locale)
        except StoreError as exc:
            log.warning("alerts.command.unavailable", extra={"verb": verb, "error": str(exc)[:80]})
            return cards.notice_message(locale, "alerts_unavailable")

    async def watch(self, who: Inbound, clue_id: int, thread_ts: str | None, locale: str) -> Message:
        """Watch ``clue_id`` in ``who``'s channel, replies under ``thread_ts`` (the message a Watch button was
        clicked on), else under the clue's last alert there, else in a new message: the ephemeral answer."""
        alerts = self._alerts
        if alerts is None or alerts.watches is None:
            return cards.notice_message(locale, "alerts_unavailable")
        try:
            refused = await self._posting_refused(alerts, who, locale, "watch_refused")
            if refused is not None:
                return refused
            if await self._not_a_member(alerts.client, who.channel_id or ""):
                return cards.notice_message(locale, "watch_not_in_channel")
            watch = await alerts.watches.watch(who.team_id or "", who.channel_id or "", clue_id, who.user_id or "",
                                               thread_ts)
        except StoreError as exc:
            log.warning("alerts.command.unavailable", extra={"verb": WATCH, "error": str(exc)[:80]})
            return cards.notice_message(locale, "alerts_unavailable")
        log.info("watches.watched", extra={"channel": who.channel_id, "user": who.user_id, "clue_id": clue_id,
                                            "watch": watch.id, "threaded": watch.thread_ts is not None})
        return cards.notice_message(locale, "watching_thread" if thread_ts else "watching", id=clue_id)

    async def _posting_refused(self, alerts: AlertDeps, who: Inbound, locale: str, key: str) -> Message | None:
        """Why ``who`` may not have the app post in this channel (subscribe, watch), or None."""
        # Share's rule: posts are for the whole channel, never into Slack Connect unless allowed.
        admitted, _ = await self._deps.cards.admit(who, SHARE, cost=0)
        rule = str(admitted.args["rule"]) if isinstance(admitted, Refusal) and admitted.key == "not_allowed" else None
        if alerts.subscriber_ids and who.user_id not in alerts.subscriber_ids:
            rule = rule or "subscriber"
        return self._refused(who, locale, rule=rule, key=key)

    async def _watches(self, alerts: AlertDeps, who: Inbound, locale: str) -> Message:
        listed = await alerts.watches.watches(who.channel_id or "") if alerts.watches else []
        if not listed:
            return cards.notice_message(locale, "watches_none")
        lines = [_watch_line(watch, locale) for watch in listed]
        return _listing(t(locale, "notice.watches", lines="\n".join(lines)))

    async def _unwatch(self, alerts: AlertDeps, text: str, who: Inbound, locale: str) -> Message:
        clue_id = self._clue_id(text)
        if clue_id is None or alerts.watches is None:
            return cards.notice_message(locale, "watch_usage")
        gone = await alerts.watches.unwatch(who.channel_id or "", clue_id)
        if gone is None:
            return cards.notice_message(locale, "unwatch_unknown", id=clue_id)
        log.info("watches.unwatched", extra={"channel": who.channel_id, "user": who.user_id, "clue_id": clue_id})
        return cards.notice_message(locale, "unwatched", id=clue_id)

    def _clue_id(self, text: str) -> int | None:
        """The one clue a watch command names: an id or a link to it in the CRM."""
        token = text.strip()
        if "/" in token:
            return self._deps.matcher.match(token.strip("<>").split("|", 1)[0])
        try:
            return parse_clue_id(token)
        except InvalidClueId:
            return None

    async def _subscribe(self, alerts: AlertDeps, text: str, who: Inbound, locale: str) -> Message:
        refused = await self._posting_refused(alerts, who, locale, "subscribe_refused")
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
        return cards.notice_message(locale, "subscribed", what=described(subscription, locale), number=number)

    async def _list(self, alerts: AlertDeps, who: Inbound, locale: str) -> Message:
        listed = await alerts.store.subscriptions(who.channel_id or "")
        if not listed:
            return cards.notice_message(locale, "subscriptions_none")
        lines = []
        for number, subscription in enumerate(listed, 1):
            line = f"{number}. {mrkdwn_value(described(subscription, locale), 300)} · <@{subscription.created_by}>"
            if subscription.disabled_reason:
                reason = t(locale, f"alerts.reason.{subscription.disabled_reason}")
                line += " · " + t(locale, "alerts.disabled", reason=reason)
            lines.append(line)
        return _listing(t(locale, "notice.subscriptions", lines="\n".join(lines)))

    async def _unsubscribe(self, alerts: AlertDeps, text: str, who: Inbound, locale: str) -> Message:
        number_text = text.strip()
        if not (number_text.isascii() and number_text.isdigit() and len(number_text) <= 4):
            return cards.notice_message(locale, "unsubscribe_usage")
        gone = await alerts.store.unsubscribe(who.channel_id or "", int(number_text))
        if gone is None:
            return cards.notice_message(locale, "unsubscribe_unknown", number=int(number_text))
        log.info("alerts.unsubscribed", extra={"channel": who.channel_id, "user": who.user_id, "subscription": gone.id})
        return cards.notice_message(locale, "unsubscribed", number=int(number_text), what=described(gone, locale))

    def _refused(self, who: Inbound, locale: str, *, rule: str | None, key: str = "subscribe_refused"
                 ) -> Message | None:
        rule = rule or self._deps.gate.access.check_lookup(who)
        if rule is None:
            return None
        log.info("alerts.access.denied", extra={"user": who.user_id, "channel": who.channel_id, "rule": rule})
        return cards.notice_message(locale, key, rule=rule, contact=self._deps.gate.access.admin_contact)

    @staticmethod
    async def _not_a_member(client: AsyncWebClient, channel_id: str) -> bool:
        """True only when Slack says the bot is not in the channel (unknown: let delivery find out)."""
        try:
            answer = await asyncio.wait_for(client.conversations_info(channel=channel_id), MEMBERSHIP_WAIT)
        except (SlackCallFailed, TimeoutError):
            return False
        channel = answer.get("channel")
        return isinstance(channel, dict) and channel.get("is_member") is False


def described(subscription: Subscription, locale: str) -> str:
    """What a subscription alerts, as plain text (escaped by ``notice_message``, or by the caller)."""
    if not subscription.filters:
        return t(locale, "alerts.every_clue")
    return t(locale, "alerts.matching", filters=describe(subscription.filters))


def _watch_line(watch: Watch, locale: str) -> str:
    """One watch as listed: the clue (its name as last read), who watches it, and whether it stopped."""
    name = Snapshot.from_json(watch.snapshot).name if watch.snapshot else None
    title = t(locale, "clue.title", id=watch.clue_id)
    if name:
        title += f" · {mrkdwn_value(name, 80)}"
    line = f"• {title} · <@{watch.created_by}>"
    if watch.disabled_reason:
        line += " · " + t(locale, "alerts.disabled", reason=t(locale, f"alerts.reason.{watch.disabled_reason}"))
    return line


def _listing(text: str) -> Message:
    """A listing notice whose lines were escaped as they were made."""
    return {"text": text, "blocks": [{"type": "section", "block_id": cards.BLOCK_NOTICE,
                                      "text": {"type": "mrkdwn", "text": text, "verbatim": True}}]}
