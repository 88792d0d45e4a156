"""The Work Object flexpane: an ``entity_details_requested`` event is answered with
``entity.presentDetails`` carrying the whole clue for the person who opened it.

The event is acked at once; the lookup runs in the ``TaskRunner``. The clue id comes from the event's
``external_ref`` (the URLs only without one) and is untrusted: it is re-parsed, and a URL the event names
that links to another clue gets the viewer ``not_found``. Access rules and the per-person budget are the
viewer's own (``DETAILS`` through the gate: the lookup rules, Share's Slack Connect rule with Slack asked when
the event does not say, and the team allow list where other organisations may be present): a refusal is the
documented ``restricted`` error, never data.

Phones in the flexpane: shown in full only where Slack said the conversation is not shared with
another organisation (``is_ext_shared_channel: false``); unknown (Slack's documented event carries no
such flag, and a flexpane opened from search has no conversation) or shared: masked. Fail closed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.cache.clues import Lookup
from bot.cache.timed import Timed
from bot.domain.clue import PHONE
from bot.domain.follow_ups import FollowUp
from bot.domain.ids import parse_clue_id
from bot.domain.locales import locale_from_slack
from bot.domain.owner import Owner
from bot.errors import BotError, ClueNotFound, InvalidClueId
from bot.runtime.logs import AUDIT_LOGGER
from bot.slack import entities
from bot.slack.features import FeatureDeps
from bot.slack.gate import DETAILS, Refusal
from bot.slack.i18n import t
from bot.slack.inbound import Inbound
from bot.slack.links import LinkMatcher
from bot.slack.notices import log_failure

log = logging.getLogger(__name__)
audit = logging.getLogger(AUDIT_LOGGER)

# How long the flexpane waits for the clue. Slack does not document the life of this trigger_id;
# the modal one lives 3 s, so the answer (an error included) is sent well within that.
DETAILS_BUDGET = 2.5
EVENT = "entity_details_requested"


@dataclass(frozen=True, slots=True)
class DetailsRequest:
    """An ``entity_details_requested`` event, validated. ``clue_id`` is None when the entity is not ours."""

    trigger_id: str
    who: Inbound
    locale: str
    clue_id: int | None

    @classmethod
    def parse(cls, event: Mapping[str, Any], body: Mapping[str, Any], matcher: LinkMatcher,
              default_locale: str) -> DetailsRequest | None:
        trigger_id = event.get("trigger_id")
        if not isinstance(trigger_id, str) or not trigger_id or len(trigger_id) > 255:
            return None  # nothing to answer with
        locale = event.get("user_locale")
        return cls(trigger_id=trigger_id, who=Inbound.from_event(event, body),
                   locale=locale_from_slack(locale if isinstance(locale, str) else None, default_locale),
                   clue_id=_clue_id(event, matcher))


def _clue_id(event: Mapping[str, Any], matcher: LinkMatcher) -> int | None:
    """The clue the event is about, or None. The ``external_ref`` this app set in the unfurl names it;
    Slack does not promise that ``link.url`` is the entity's URL (its own SDK's fixture sends the domain
    root there), so the URLs only stand in when there is no ``external_ref`` of ours, and any URL that is a
    clue link must name the same clue."""
    from_urls = _clue_ids_linked(event, matcher)
    if from_urls is None or len(from_urls) > 1:
        return None  # malformed, or links to two clues: not ours to guess
    ref = event.get("external_ref")
    if ref is None:
        return next(iter(from_urls), None)
    if not isinstance(ref, Mapping) or ref.get("type", entities.EXTERNAL_TYPE) != entities.EXTERNAL_TYPE:
        return None
    raw = ref.get("id")  # documented as a string; we sent it as one
    try:
        clue_id = parse_clue_id(raw[:40]) if isinstance(raw, str) else None
    except InvalidClueId:
        return None
    return clue_id if clue_id is not None and from_urls <= {clue_id} else None


def _clue_ids_linked(event: Mapping[str, Any], matcher: LinkMatcher) -> set[int] | None:
    """The clues the event's URLs link to (a URL that is no clue link names none); None when malformed."""
    link = event.get("link")
    if link is not None and not isinstance(link, Mapping):
        return None
    ids: set[int] = set()
    for url in (event.get("entity_url"), event.get("app_unfurl_url"), link.get("url") if link else None):
        if url is None:
            continue
        if not isinstance(url, str):
            return None
        clue_id = matcher.match(url[:3000])
        if clue_id is not None:
            ids.add(clue_id)
    return ids


class EntityDetails:
    def __init__(self, deps: FeatureDeps) -> None:
        self._deps = deps
        self._cards = deps.cards

    def register(self, app: AsyncApp) -> None:
        app.event(EVENT)(self.on_entity_details_requested)

    async def on_entity_details_requested(self, event: Mapping[str, Any], body: Mapping[str, Any],
                                          client: AsyncWebClient) -> None:
        request = DetailsRequest.parse(event, body, self._deps.matcher, self._deps.options.default_locale)
        if request is None:
            log.warning("entity.event.malformed", extra={"event_id": str(body.get("event_id") or "")[:64]})
            return
        self._deps.runner.spawn(self._present(request, client), name="clue.entity_details")

    async def _present(self, request: DetailsRequest, client: AsyncWebClient) -> None:
        if request.clue_id is None:
            log.info("entity.request.foreign", extra={"user": request.who.user_id, "team": request.who.team_id})
            await self._send(client, request, error=entities.entity_error(entities.ERROR_NOT_FOUND))
            return
        deadline = asyncio.get_running_loop().time() + DETAILS_BUDGET
        # The same rules as Share and unfurls: where the event does not say whether the conversation is shared
        # with another organisation, Slack is asked (for half the budget at most), and unknown refuses.
        admitted, placing = await self._cards.admit(request.who, DETAILS, within=DETAILS_BUDGET / 2)
        if isinstance(admitted, Refusal):
            await self._send(client, request, error=_refusal_error(admitted, request.locale))
            return
        pending = self._cards.start(admitted, placing, request.clue_id)  # the clue and its timeline at once
        try:
            async with asyncio.timeout_at(deadline):
                lookup = await pending.clue()
        except TimeoutError:
            pending.cancel()
            log.warning("entity.details.timeout", extra={"clue_id": request.clue_id})
            await self._send(client, request, error=entities.entity_error(entities.ERROR_TIMEOUT))
            return
        except BotError as exc:
            pending.cancel()
            log_failure(exc, request.clue_id, event="entity.details.failed")
            await self._send(client, request, error=entities.entity_error(_error_status(exc)))
            return
        # The follow-ups within what is left of the budget; without them the pane still shows the clue.
        follow_ups = await pending.follow_ups(max(0.0, deadline - asyncio.get_running_loop().time()))
        owner = await pending.owner(max(0.0, deadline - asyncio.get_running_loop().time()))
        await self._send(client, request, metadata=self._details(
            request, lookup, follow_ups.value.items if follow_ups else None, owner))

    def _details(self, request: DetailsRequest, lookup: Lookup, follow_ups: Sequence[FollowUp] | None,
                 owner: Timed[Owner | None] | None) -> dict[str, Any]:
        who = request.who
        reveal = who.slack_connect is False
        if reveal and (lookup.value.phones or any(f.kind == PHONE for f in lookup.value.other_fields)):
            audit.info("audit.phone.revealed", extra={
                "user": who.user_id, "team": who.team_id, "channel": who.channel_id, "clue_id": lookup.value.id,
                "surface": "flexpane", "at": datetime.fromtimestamp(self._deps.wall(), UTC).isoformat()})
        return self._deps.renderer.entity_details(lookup, request.locale, reveal_phone=reveal,
                                                  follow_ups=follow_ups, owner=owner)

    async def _send(self, client: AsyncWebClient, request: DetailsRequest, *,
                    metadata: dict[str, Any] | None = None, error: dict[str, Any] | None = None) -> None:
        await client.entity_presentDetails(trigger_id=request.trigger_id, metadata=metadata, error=error)


def _error_status(exc: BotError) -> str:
    if isinstance(exc, ClueNotFound):
        return entities.ERROR_NOT_FOUND
    # The CRM client and the cache's deadline both raise CrmUnavailable for a timeout, chained to it.
    if isinstance(exc.__cause__ or exc.__context__, TimeoutError | httpx.TimeoutException):
        return entities.ERROR_TIMEOUT
    return entities.ERROR_INTERNAL


def _refusal_error(refusal: Refusal, locale: str) -> dict[str, Any]:
    if refusal.key == "rate_limited":
        return entities.entity_error(entities.ERROR_CUSTOM, title=t(locale, "entity.rate_limited_title"),
                                     message=t(locale, "notice.rate_limited", **refusal.args))
    return entities.entity_error(entities.ERROR_RESTRICTED)
