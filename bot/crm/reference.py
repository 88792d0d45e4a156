"""Reference data (field definitions and the tag tree) and the clue fetcher that resolves with it.

Reference data changes rarely: it is fetched lazily, kept for ``ttl`` seconds, refreshed once when a
clue carries an id it does not know (at most once per ``min_refresh_interval``), and if the CRM fails
to serve it the last good snapshot (or an empty one: ids shown raw) is used instead of failing the
lookup.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from zoneinfo import ZoneInfo

from bot.crm.catalog import Catalog, crm_time
from bot.crm.client import CrmClient
from bot.crm.guard import about
from bot.crm.models import RawClue
from bot.domain.clue import Clue
from bot.domain.follow_ups import FollowUp, FollowUpPage
from bot.domain.owner import Owner
from bot.domain.search import PageRequest, SearchHit, SearchPage
from bot.errors import CrmError

log = logging.getLogger(__name__)

FOLLOW_UP_PAGE_SIZE = 10  # follow-ups per CRM read: one modal page
SEARCH_PAGE_SIZE = 10  # rows in a pick list, options in a type-ahead


class ReferenceData:
    """The current ``Catalog``, loaded lazily and refreshed single-flight."""

    def __init__(self, client: CrmClient, *, ttl: float, clock: Callable[[], float],
                 aliases: Mapping[str, str] | None = None, min_refresh_interval: float = 600.0) -> None:
        self._client = client
        self._ttl = ttl
        self._clock = clock
        self._aliases = dict(aliases or {})
        self._min_refresh_interval = min_refresh_interval
        self._noted: set[tuple[str, str, str]] = set()  # field bindings logged already, across reloads
        self._catalog = Catalog(aliases=self._aliases, noted=self._noted)
        self._loaded_at: float | None = None
        self._attempted_at: float | None = None
        self._loading: asyncio.Task[Catalog] | None = None  # also the strong reference to the task

    async def catalog(self) -> Catalog:
        """The snapshot; loaded on first use, refreshed in the background once older than the TTL."""
        ready = self.ready()
        return ready if ready is not None else await asyncio.shield(self._start_load())

    def ready(self) -> Catalog | None:
        """The snapshot without waiting (one older than the TTL starts a background refresh), or None while
        the first load is in flight (every caller waits for it; after a failed one, ids are shown raw)."""
        fresh = self._loaded_at is not None and self._clock() - self._loaded_at < self._ttl
        if not fresh and not self._tried_recently():
            self._start_load()
        if self._loaded_at is None and self._loading is not None:  # nothing to show yet: wait for the first load
            return None
        return self._catalog

    async def refreshed(self) -> Catalog:
        """Reload because a clue had unknown ids, unless a load was tried very recently."""
        if self._tried_recently():
            return self._catalog
        # Shielded: one caller's cancellation must not cancel the load the others await.
        return await asyncio.shield(self._start_load())

    def _tried_recently(self) -> bool:
        return self._attempted_at is not None and self._clock() - self._attempted_at < self._min_refresh_interval

    def _start_load(self) -> asyncio.Task[Catalog]:
        if self._loading is None:
            self._attempted_at = self._clock()
            self._loading = asyncio.ensure_future(self._load())
            self._loading.add_done_callback(self._clear_loading)
        return self._loading

    def _clear_loading(self, _: asyncio.Future[Catalog]) -> None:
        self._loading = None

    async def _load(self) -> Catalog:
        # Both answers are awaited, even when one fails: no request is left running unobserved.
        fields, tags = await asyncio.gather(self._client.list_fields(), self._client.list_tag_tree(),
                                            return_exceptions=True)
        for outcome in (fields, tags):
            if isinstance(outcome, CrmError):
                log.warning("crm.reference.failed", extra={"error": str(outcome),
                                                           "have_snapshot": not self._catalog.empty})
                return self._catalog
            if isinstance(outcome, BaseException):
                raise outcome
        assert not isinstance(fields, BaseException) and not isinstance(tags, BaseException)  # noqa: S101 - for mypy
        self._catalog = Catalog(fields, tags, self._aliases, noted=self._noted)
        self._loaded_at = self._clock()
        log.info("crm.reference.loaded", extra={"fields": len(fields), "tags": len(tags)})
        return self._catalog


class ClueFetcher:
    """Reads clues, their follow-ups and searches from the CRM, as domain types (names, times in
    CRM_TIMEZONE): what the caches hold and the Slack layer shows."""

    def __init__(self, client: CrmClient, reference: ReferenceData, tz: ZoneInfo) -> None:
        self._client = client
        self._reference = reference
        self._tz = tz

    async def fetch(self, clue_id: int) -> Clue:
        with about(("clue", clue_id)):
            return await self._fetch(clue_id)

    async def _fetch(self, clue_id: int) -> Clue:
        catalog = self._reference.ready()
        if catalog is not None:  # the usual case: no second task, no gather
            raw = await self._client.get_clue(clue_id)
        else:
            # The first load, side by side with the clue. Both awaited even when one fails: a reference
            # load is never left running unobserved (after a one-shot lookup its client closes under it).
            raw_or_error, catalog_or_error = await asyncio.gather(
                self._client.get_clue(clue_id), self._reference.catalog(), return_exceptions=True)
            if isinstance(raw_or_error, BaseException):
                raise raw_or_error
            if isinstance(catalog_or_error, BaseException):
                raise catalog_or_error
            raw, catalog = raw_or_error, catalog_or_error
        return await self._resolved(raw, catalog)

    async def resolve(self, raw: RawClue) -> Clue:
        """A clue the CRM already sent (a page of new clues), resolved like a fetched one."""
        return await self._resolved(raw, await self._reference.catalog())

    async def _resolved(self, raw: RawClue, catalog: Catalog) -> Clue:
        clue = catalog.resolve(raw, self._tz)
        if clue.has_unknown_ids:  # a tag or option added since the snapshot: reload once, resolve again
            refreshed = await self._reference.refreshed()
            if refreshed is not catalog:
                clue = refreshed.resolve(raw, self._tz)
        return clue

    async def owner(self, clue_id: int) -> Owner | None:
        """Whose lead ``clue_id`` is (None: the CRM's search has no row for it)."""
        with about(("owner", clue_id)):
            return await self._client.owner(clue_id)

    async def follow_ups(self, key: tuple[int, str | None]) -> FollowUpPage:
        """One page of a clue's follow-ups (``key`` = clue id, cursor), times read in CRM_TIMEZONE."""
        clue_id, cursor = key
        with about(("clue", clue_id)):
            page = await self._client.list_follow_ups(clue_id, size=FOLLOW_UP_PAGE_SIZE, cursor=cursor)
        items = tuple(
            FollowUp(id=item.id, kind=item.type, note=item.content, at=crm_time(item.create_time, self._tz),
                     operator=(item.operator.name if item.operator else None) or None)
            for item in page.items)
        # A cursor that repeats itself would page forever: the end, as far as we are concerned.
        next_cursor = page.next_cursor if page.next_cursor and page.next_cursor != cursor else None
        return FollowUpPage(items, next_cursor)

    async def search(self, request: PageRequest) -> SearchPage:
        """One page of customer/search for ``request``'s query."""
        query = request.query
        # Rows carry the name, phone and company under the tenant's field ids (from list-fields; without
        # reference data, named by qwRemark / wechatNickname only): no extra read per row.
        catalog = self._reference.ready() or await self._reference.catalog()
        with about(("search", request.cache_key)):
            page = await self._client.search_customers(query.key, page_no=request.page_no,
                                                       page_size=SEARCH_PAGE_SIZE, fields=catalog.row_fields)
        hits = tuple(SearchHit(clue_id=hit.customer_id, name=hit.name, stage=hit.stage_name,
                               created=crm_time(hit.create_time, self._tz), tags=hit.tags, phone=hit.phone,
                               company=hit.company) for hit in page.hits)
        return SearchPage(query, request.page_no, hits, page.total_pages)
