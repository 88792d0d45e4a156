"""Link previews: a ``link_shared`` event is acked at once; the clues are looked up (charged to the
person who posted the links) and ``chat.unfurl`` sends the cards, with each clue's Work Object
metadata, from a background task.

A link that gets no preview leaves a DEBUG line ``unfurl.skipped`` naming the event and why (not a clue
link, too many links, refused, the clue's lookup failed): nobody is told in Slack, and the playground
shows the reason next to the pasted link (``bot.dev.playground.skips``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.cache.clues import Lookup
from bot.cache.timed import Timed
from bot.errors import BotError
from bot.runtime.tasks import PREVIEW
from bot.slack.features import FeatureDeps
from bot.slack.features.card_request import clues
from bot.slack.gate import UNFURL, Refusal
from bot.slack.inbound import Inbound
from bot.slack.notices import error_key, log_failure
from bot.slack.webapi import SlackCalls

log = logging.getLogger(__name__)

EVENT = "link_shared"
MAX_UNFURL_LINKS = 5


@dataclass(frozen=True, slots=True)
class UnfurlTarget:
    """Where chat.unfurl points: a posted message (channel + ts) or a composer preview (unfurl_id + source)."""

    channel: str | None = None
    ts: str | None = None
    unfurl_id: str | None = None
    source: str | None = None

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> UnfurlTarget | None:
        if event.get("source") == "composer" or "COMPOSER" in (event.get("channel"), event.get("channel_id")):
            unfurl_id = event.get("unfurl_id")
            return cls(unfurl_id=str(unfurl_id), source="composer") if unfurl_id else None
        channel, ts = event.get("channel"), event.get("message_ts")
        return cls(channel=str(channel), ts=str(ts)) if channel and ts else None


async def chat_unfurl(client: AsyncWebClient, target: UnfurlTarget, unfurls: Mapping[str, Any],
                      calls: SlackCalls, entities: Sequence[Mapping[str, Any]] = ()) -> None:
    """Send (or replace) the previews of ``unfurls`` (URL exactly as Slack sent it -> blocks), with the
    Work Object ``entities`` of the same links; the blocks stay the fallback where Work Objects are off."""
    metadata = {"entities": [dict(e) for e in entities]} if entities else None
    async with calls.unfurl_slots:
        response = await client.chat_unfurl(channel=target.channel, ts=target.ts, unfurl_id=target.unfurl_id,
                                            source=target.source, unfurls=dict(unfurls), metadata=metadata)
    # Slack answers ok with a warning (e.g. invalid_metadata_format) when it drops Work Object metadata.
    if warning := response.get("warning"):
        messages = (response.get("response_metadata") or {}).get("messages") or []
        log.warning("unfurl.metadata.warning", extra={"warning": str(warning)[:200],
                                                      "messages": [str(m)[:300] for m in messages[:5]]})


class LinkUnfurls:
    def __init__(self, deps: FeatureDeps) -> None:
        self._deps = deps

    def register(self, app: AsyncApp) -> None:
        app.event(EVENT)(self.on_link_shared)

    async def on_link_shared(self, event: Mapping[str, Any], body: Mapping[str, Any],
                             client: AsyncWebClient) -> None:
        event_id = str(body.get("event_id") or "")[:64]
        links = list(event.get("links") or [])[:MAX_UNFURL_LINKS * 4]
        targets: dict[str, int] = {}
        others = 0
        for link in links:
            url = link.get("url") if isinstance(link, Mapping) else None
            if isinstance(url, str) and (clue_id := self._deps.matcher.match(url)) is not None:
                targets.setdefault(url, clue_id)
            else:
                others += 1
        if others:
            _skipped(event_id, "not_a_clue_link", links=others)
        if not targets:
            return
        target = UnfurlTarget.from_event(event)
        if target is None:
            log.warning("unfurl.event.malformed", extra={"event_id": event_id})
            return
        picked = dict(list(targets.items())[:MAX_UNFURL_LINKS])
        if len(targets) > len(picked):
            _skipped(event_id, "too_many_links", links=len(targets) - len(picked), limit=MAX_UNFURL_LINKS)
        # Admitted in the task: when the callback does not say whether the conversation is shared with
        # another organisation, the gate asks Slack, and the ack must not wait for that.
        self._deps.runner.spawn(self._unfurl(Inbound.from_event(event, body), picked, target, client, event_id),
                                name="clue.unfurl", kind=PREVIEW)

    async def _unfurl(self, who: Inbound, targets: dict[str, int], target: UnfurlTarget,
                      client: AsyncWebClient, event_id: str) -> None:
        ids = list(dict.fromkeys(targets.values()))
        cards = self._deps.cards
        # Where the event does not say whether the conversation is shared, the card request asks Slack.
        admitted, placing = await cards.admit(who, UNFURL, cost=len(ids))
        if isinstance(admitted, Refusal):
            # Nobody to tell: the poster sees their message without previews.
            _skipped(event_id, admitted.key, links=len(targets),
                     **{k: v for k, v in admitted.args.items() if k in ("rule", "seconds")})
            return
        pending = [cards.start(admitted, placing, i, follow_ups=False, owner=False) for i in ids]
        results = await clues(pending)
        lookups: dict[int, Lookup] = {}
        for clue_id, result in zip(ids, results, strict=True):
            if isinstance(result, Timed):
                lookups[clue_id] = result
            elif isinstance(result, BotError):
                log_failure(result, clue_id, event="unfurl.link.skipped")
                _skipped(event_id, error_key(result), clue_id=clue_id, error=type(result).__name__)
            else:
                raise result
        locale = self._deps.options.default_locale
        shown = {url: lookups[clue_id] for url, clue_id in targets.items() if clue_id in lookups}
        if shown:
            renderer = self._deps.renderer
            # Whose lead it is only when the cache holds it: a preview never waits for a second read.
            owners = {clue_id: admitted.cached_owner(clue_id) for clue_id in lookups}
            await chat_unfurl(client, target, {url: renderer.unfurl(lookup, locale, owners[lookup.value.id])
                                               for url, lookup in shown.items()},
                              self._deps.calls,
                              [renderer.entity_unfurl(lookup, locale, url, owners[lookup.value.id])
                               for url, lookup in shown.items()])


def _skipped(event_id: str, reason: str, **extra: object) -> None:
    """Why links of an event got no preview, at DEBUG: in production a refused flood logs nothing per event
    (the gate logs one line per person and window); the playground turns this logger up to show it."""
    if log.isEnabledFor(logging.DEBUG):
        log.debug("unfurl.skipped", extra={"event_id": event_id, "reason": reason, **extra})
