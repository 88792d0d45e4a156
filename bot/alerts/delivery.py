"""Posting pending alerts: per channel, paced, digested, each delivery marked before and after.

A channel's pending deliveries become one message per clue, or one digest when more than ``digest_over``
clues wait (a burst, or a catch-up after downtime). A clue two subscriptions of a channel both want is
posted once. Posts to one channel go out one at a time at most one per ``interval`` seconds (Slack's
~1 message per second per channel); a 429 waits its ``Retry-After``. ``not_in_channel``,
``channel_not_found`` and ``is_archived`` disable the channel's subscriptions and tell whoever created them.

Crash safety: ``attempting`` (attempts + 1) is written before ``chat.postMessage`` and ``posted`` (with
the ts) after. Every message carries metadata naming its deliveries, so a delivery found pending with an
attempt behind it is first looked for in the channel (``conversations.history``, which needs the
``channels:history`` / ``groups:history`` scopes): found, it is marked posted without posting again.
Without those scopes, or when Slack accepted a post and the process died before the lookup could see it,
such a delivery is posted again (at least once): the window is the few milliseconds between Slack's
answer and the ``posted`` write.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts.cards import UrlFor, alert_message, covered_deliveries, delivery_metadata, digest_message
from bot.alerts.posting import CHANNEL_GONE, ChannelPacer, recent_messages
from bot.domain.clue import Clue
from bot.errors import SlackCallFailed
from bot.slack.i18n import t
from bot.store.alerts import AlertStore, PendingDelivery

log = logging.getLogger(__name__)



@dataclass
class DeliveryResult:
    messages: int = 0  # chat.postMessage calls Slack accepted
    delivered: int = 0  # deliveries marked posted (a digest marks many)
    recovered: int = 0  # found already posted after a crash
    disabled: list[str] = field(default_factory=list)  # channels whose subscriptions were stopped


@dataclass(frozen=True, slots=True)
class _Batch:
    deliveries: tuple[PendingDelivery, ...]
    clues: tuple[Clue, ...]

    @property
    def ids(self) -> list[int]:
        return [d.id for d in self.deliveries]


class AlertPoster:
    def __init__(self, store: AlertStore, client: AsyncWebClient, *, locale: str, url_for: UrlFor,
                 digest_over: int, pacer: ChannelPacer, max_channels: int = 4) -> None:
        self._store = store
        self._client = client
        self._locale = locale
        self._url_for = url_for
        self._digest_over = digest_over
        self._pacer = pacer
        self._slots = asyncio.Semaphore(max_channels)

    async def deliver(self) -> DeliveryResult:
        """Post everything pending; what was posted."""
        if self._pacer.paused:
            return DeliveryResult()
        by_channel: dict[str, list[PendingDelivery]] = {}
        for delivery in await self._store.pending():
            by_channel.setdefault(delivery.channel_id, []).append(delivery)
        result = DeliveryResult()
        await asyncio.gather(*(self._channel(channel, items, result) for channel, items in by_channel.items()))
        return result

    async def _channel(self, channel: str, items: list[PendingDelivery], result: DeliveryResult) -> None:
        async with self._slots:
            if any(d.attempts for d in items):
                items = await self._recover(channel, items, result)
            for batch in self._batches(items):
                if self._pacer.paused or not await self._post(channel, batch, result):
                    return  # Slack refused the app or the channel, or failed: the rest waits

    def _batches(self, items: Sequence[PendingDelivery]) -> list[_Batch]:
        per_clue: dict[int, list[PendingDelivery]] = {}
        for delivery in items:
            per_clue.setdefault(delivery.clue.id, []).append(delivery)
        if len(per_clue) > self._digest_over:
            return [_Batch(tuple(items), tuple(group[0].clue for group in per_clue.values()))]
        return [_Batch(tuple(group), (group[0].clue,)) for group in per_clue.values()]

    async def _post(self, channel: str, batch: _Batch, result: DeliveryResult) -> bool:
        message = (digest_message(batch.clues, self._locale, self._url_for) if len(batch.clues) > 1
                   else alert_message(batch.clues[0], self._locale, self._url_for))
        ids = batch.ids
        await self._pacer.wait(channel)
        await self._store.attempting(ids)
        try:
            # The Web API client waits out a 429's Retry-After itself (bot.slack.webapi), and logs and counts
            # any failure once; a delivery that still fails stays pending for the next round.
            answer = await self._client.chat_postMessage(
                channel=channel, text=message["text"], blocks=message["blocks"], unfurl_links=False,
                unfurl_media=False, metadata=delivery_metadata(min(ids), max(ids)))
        except SlackCallFailed as exc:
            if exc.error in CHANNEL_GONE:
                await self._stop_channel(channel, batch.deliveries, exc.error, result)
            else:
                self._pacer.refused(exc.error)
            return False
        self._pacer.posted(channel)
        ts = answer.get("ts")
        await self._store.posted(ids, ts if isinstance(ts, str) else None)
        result.messages += 1
        result.delivered += len(ids)
        return True

    async def _recover(self, channel: str, items: list[PendingDelivery], result: DeliveryResult
                       ) -> list[PendingDelivery]:
        """Deliveries a crash may have left posted but unmarked: found in the channel, marked, dropped from
        ``items``; the rest returned. Unverifiable (no history scope, Slack failing): all returned."""
        tried = [d for d in items if d.attempts]
        try:
            messages = await recent_messages(self._client, channel, min(d.created_at for d in tried))
        except SlackCallFailed as exc:
            log.warning("alerts.recovery.unverified", extra={"channel": channel, "pending": len(tried),
                                                             "error": exc.error[:64]})
            return items
        ranges = [(*covered, str(message.get("ts"))) for message in messages
                  if (covered := covered_deliveries(message)) is not None]
        found: dict[str, list[int]] = {}
        for delivery in tried:
            for first, last, ts in ranges:
                if first <= delivery.id <= last:
                    found.setdefault(ts, []).append(delivery.id)
                    break
        for ts, ids in found.items():
            await self._store.posted(ids, ts)
            result.recovered += len(ids)
        done = {i for ids in found.values() for i in ids}
        if done:
            log.info("alerts.recovery.found", extra={"channel": channel, "deliveries": len(done)})
        return [d for d in items if d.id not in done]

    async def _stop_channel(self, channel: str, deliveries: Sequence[PendingDelivery], error: str,
                            result: DeliveryResult) -> None:
        subscriptions = {d.subscription_id for d in deliveries}
        for subscription in await self._store.subscriptions(channel):
            if subscription.id in subscriptions or subscription.active:
                await self._store.disable(subscription.id, error)
        result.disabled.append(channel)
        log.warning("alerts.subscription.disabled", extra={"channel": channel, "reason": error})
        owners = {s.created_by for s in await self._store.subscriptions(channel)}
        text = t(self._locale, "alert.stopped", channel=channel, reason=t(self._locale, f"alerts.reason.{error}"))
        for user in sorted(owners):
            try:  # a direct message from the app to whoever subscribed; chat:write is enough
                await self._client.chat_postMessage(channel=user, text=text)
            except SlackCallFailed as exc:
                log.info("alerts.subscription.disabled.unannounced", extra={"channel": channel,
                                                                            "error": exc.error[:64]})
