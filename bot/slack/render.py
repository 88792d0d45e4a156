"""Cards for a lookup, for a viewer: the card options, and a render cache for the hot path.

Rendering is ~200 µs of slack_sdk model work, and a cached clue is the same clue until its fetch time
changes: a card rendered alike before is reused, with its ephemeral ack body encoded once. The card also
shows the latest follow-up, a second cache entry: the render cache is keyed on both fetch times. Stale
cards are never kept.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from cachetools import LRUCache

from bot.cache.clues import Lookup
from bot.cache.timed import Timed
from bot.config import DEFAULT_DUE_FIELD, DEFAULT_SUMMARY_FIELDS
from bot.domain.follow_ups import FollowUp, FollowUpPage
from bot.domain.owner import Owner
from bot.slack import cards, entities
from bot.slack.access import AccessPolicy
from bot.slack.inbound import Inbound
from bot.slack.links import LinkMatcher

Message = dict[str, Any]


class Rendered:
    """A rendered card, and its ephemeral ack body encoded once (on first use)."""

    __slots__ = ("_ack_body", "message")

    def __init__(self, message: Message) -> None:
        self.message = message
        self._ack_body: str | None = None

    @property
    def ack_body(self) -> str:
        if self._ack_body is None:
            self._ack_body = json.dumps({"response_type": "ephemeral", **self.message}, ensure_ascii=False)
        return self._ack_body


class CardRenderer:
    def __init__(self, matcher: LinkMatcher, access: AccessPolicy, wall: Callable[[], float], *,
                 summary_fields: tuple[str, ...] = DEFAULT_SUMMARY_FIELDS,
                 due_field: str | None = DEFAULT_DUE_FIELD, watches: bool = False) -> None:
        self._matcher = matcher
        self._watches = watches  # the alerts database is on: shared cards offer Watch
        self._access = access
        self._wall = wall
        self._summary_fields = summary_fields
        self._due_field = due_field
        self._rendered: LRUCache[tuple[Any, ...], Rendered] = LRUCache(maxsize=2048)
        self._unfurls: LRUCache[tuple[Any, ...], dict[str, Any]] = LRUCache(maxsize=1024)

    def card(self, lookup: Lookup, locale: str, who: Inbound | None, *, channel: bool = False,
             shared_by: str | None = None, reveal_phone: bool = False,
             follow_ups: Timed[FollowUpPage] | None = None, follow_ups_missing: bool = False,
             owner: Timed[Owner | None] | None = None) -> Rendered:
        """The card message (from the render cache when this version was rendered alike before).

        ``follow_ups``: the newest follow-ups, if they came in time; ``follow_ups_missing``: they were
        looked up and did not, which the card says. ``owner``: whose lead it is, if that came in time.
        """
        reveal_phone = reveal_phone and not channel
        shareable = who is not None and self._access.check_share(who) is None
        version = (follow_ups.fetched_at, follow_ups.stale) if follow_ups else follow_ups_missing
        # The overdue mark depends on the clock: a card is reused within its minute only.
        key = (lookup.value.id, lookup.fetched_at, version, _version(owner), int(self._wall() // 60), locale,
               channel, shareable, reveal_phone, shared_by)
        rendered = None if lookup.stale else self._rendered.get(key)
        if rendered is None:
            opts = self.options(lookup, locale, who, channel=channel, shared_by=shared_by, reveal_phone=reveal_phone,
                                follow_ups=follow_ups, follow_ups_missing=follow_ups_missing, owner=owner)
            rendered = Rendered(cards.clue_message(lookup.value, opts))
            if not lookup.stale:
                self._rendered[key] = rendered
        return rendered

    def unfurl(self, lookup: Lookup, locale: str, owner: Timed[Owner | None] | None = None) -> dict[str, Any]:
        """The unfurl of a clue: seen by everyone in the conversation. The same for every post of the link
        while the clue is unchanged, so rendered once per minute (callers never modify it). ``owner``: whose
        lead it is, when the cache holds it."""
        return self._once(("unfurl", lookup.value.id, lookup.fetched_at, _version(owner), locale), lookup,
                          lambda: cards.clue_unfurl(lookup.value, self.options(lookup, locale, None, channel=True,
                                                                              owner=owner)))

    def entity_unfurl(self, lookup: Lookup, locale: str, unfurl_url: str,
                      owner: Timed[Owner | None] | None = None) -> dict[str, Any]:
        """The Work Object of a clue link (``chat.unfurl`` metadata): seen by everyone in the conversation."""
        return self._once(("entity", lookup.value.id, lookup.fetched_at, _version(owner), locale, unfurl_url), lookup,
                          lambda: entities.clue_entity_unfurl(lookup.value, self._entity_options(lookup, locale, owner),
                                                              unfurl_url=unfurl_url))

    def _once(self, key: tuple[Any, ...], lookup: Lookup, render: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """``render()``, reused within the minute for a fresh lookup: a link posted in many messages at once
        (every waiter of one CRM read) is rendered once, not once per message."""
        if lookup.stale:
            return render()
        key = (*key, int(self._wall() // 60))
        found = self._unfurls.get(key)
        if found is None:
            found = self._unfurls[key] = render()
        return found

    def entity_details(self, lookup: Lookup, locale: str, *, reveal_phone: bool,
                       follow_ups: Sequence[FollowUp] | None = None,
                       owner: Timed[Owner | None] | None = None) -> dict[str, Any]:
        """The flexpane of a clue (``entity.presentDetails`` metadata), for one viewer."""
        opts = replace(self._entity_options(lookup, locale, owner), reveal_phone=reveal_phone)
        return entities.clue_entity_details(lookup.value, opts, follow_ups=follow_ups)

    def _entity_options(self, lookup: Lookup, locale: str,
                        owner: Timed[Owner | None] | None) -> entities.EntityOptions:
        return entities.EntityOptions(locale=locale, clue_url=self._matcher.url_for(lookup.value.id),
                                      fetched_at=datetime.fromtimestamp(lookup.fetched_at, UTC),
                                      stale=lookup.stale, due_field=self._due_field,
                                      now=datetime.fromtimestamp(self._wall(), UTC),
                                      owner=owner.value if owner else None)

    def list_message(self, items: Sequence[cards.ListItem], ids: Sequence[int], locale: str,
                     who: Inbound | None, activity: Mapping[int, FollowUp] | None = None) -> Message:
        return cards.clue_list_message(items, self.options(None, locale, who),
                                       urls={i: self._matcher.url_for(i) for i in ids}, activity=activity)

    def options(self, lookup: Lookup | None, locale: str, who: Inbound | None, *, channel: bool = False,
                shared_by: str | None = None, reveal_phone: bool = False,
                follow_ups: Timed[FollowUpPage] | None = None,
                follow_ups_missing: bool = False, owner: Timed[Owner | None] | None = None) -> cards.CardOptions:
        now = datetime.fromtimestamp(self._wall(), UTC)
        return cards.CardOptions(
            locale=locale,
            audience=cards.AUDIENCE_CHANNEL if channel else cards.AUDIENCE_PRIVATE,
            now=now,
            fetched_at=datetime.fromtimestamp(lookup.fetched_at, UTC) if lookup else now,
            stale=lookup.stale if lookup else False,
            clue_url=self._matcher.url_for(lookup.value.id) if lookup else None,
            shareable=who is not None and self._access.check_share(who) is None,
            reveal_phone=reveal_phone and not channel,
            shared_by=shared_by,
            watchable=self._watches and channel and shared_by is not None,
            follow_ups=follow_ups.value if follow_ups else None,
            follow_ups_missing=follow_ups_missing and follow_ups is None,
            follow_ups_stale=follow_ups.stale if follow_ups else False,
            owner=owner.value if owner else None,
            summary_fields=self._summary_fields,
            due_field=self._due_field,
        )


def _version(read: Timed[Any] | None) -> tuple[float, bool] | None:
    """Which answer of a cached read a rendering used: a newer one renders anew."""
    return (read.fetched_at, read.stale) if read else None
