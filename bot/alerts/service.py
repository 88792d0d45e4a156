"""The alerts service of one instance: migrate, then poll, post and check watched clues on a schedule while
holding the lease.

Every instance runs it; only the lease holder polls and posts, and another takes over within the lease's
time when the holder dies. A failing database or CRM pauses a round (logged once per kind), never the
instance: lookups go on, and the next round catches up (a backlog comes as a digest). ``recheck`` is the
CRM push's hint that a clue changed: any instance may take it; the lease holder posts the reply.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass
from functools import partial

from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts.delivery import AlertPoster, DeliveryResult
from bot.alerts.poller import NewCluePoller, PollResult
from bot.alerts.posting import ChannelPacer
from bot.alerts.watches import ClueWatcher, WatchReads, WatchResult
from bot.config import Settings
from bot.crm.client import CrmClient
from bot.crm.reference import ClueFetcher
from bot.errors import CrmError, StoreError
from bot.store.alerts import AlertStore
from bot.store.database import Database, connect
from bot.store.lease import Lease
from bot.store.people import anyone_linked
from bot.store.watches import WatchStore

log = logging.getLogger(__name__)

POLLER_LEASE = "alert_poller"


@dataclass(frozen=True, slots=True)
class Round:
    leader: bool
    poll: PollResult | None = None
    delivery: DeliveryResult | None = None
    watches: WatchResult | None = None


class AlertService:
    def __init__(self, db: Database, store: AlertStore, poller: NewCluePoller, poster: AlertPoster, lease: Lease, *,
                 interval: float, watcher: ClueWatcher | None = None) -> None:
        self.db = db
        self.store = store
        self.lease = lease
        self.watcher = watcher
        self._poller = poller
        self._poster = poster
        self._interval = interval
        self._migrated = False
        self._failing: str | None = None
        self._one_round = asyncio.Lock()  # the loop's rounds and one asked for (alerts run, tests) never overlap
        self.looped = asyncio.Event()  # set once the loop's first round is over (tests wait for it)

    async def migrate(self) -> bool:
        """Bring the schema up to date once; False (logged) when the database does not answer: the loop
        tries again each round, and commands say alerts are unavailable meanwhile."""
        try:
            await self.db.migrate()
        except StoreError as exc:
            log.error("alerts.migration.failed", extra={"error": str(exc)})
            return False
        self._migrated = True
        return True

    async def run_round(self) -> Round:
        """One round: migrate if not yet, take or renew the lease, poll, post, check watched clues and post
        their changes. Raises what failed."""
        async with self._one_round:
            if not self._migrated:
                await self.db.migrate()
                self._migrated = True
            if not await self.lease.acquire():
                return Round(leader=False)
            poll = await self._poller.poll_once()
            delivery = await self._poster.deliver()
            watches = await self.watcher.round() if self.watcher is not None else None
            return Round(leader=True, poll=poll, delivery=delivery, watches=watches)

    async def recheck(self, clue_id: int) -> None:
        """A hint that ``clue_id`` changed (the CRM's push): re-read it now, bypassing the cache's freshness,
        and record a change; the lease holder posts it at once, another instance leaves it to the holder's
        next round. Never raises: polling stays the path that always works."""
        if self.watcher is None or not self._migrated:
            return
        try:
            if not any(w.active for w in await self.watcher.store.watches(clue_id=clue_id)):
                return  # nobody watches it: no CRM read
            if await self.watcher.check(clue_id, refresh=True):
                async with self._one_round:
                    if await self.lease.acquire():
                        await self.watcher.post(WatchResult())
        except (StoreError, CrmError) as exc:
            log.warning("watches.recheck.failed", extra={"clue_id": clue_id, "error": type(exc).__name__})

    async def run(self) -> None:
        """Rounds every ``interval`` seconds until cancelled; failures pause a round, not the loop."""
        while True:
            try:
                await self.run_round()
                self._recovered()
            except (StoreError, CrmError) as exc:
                self._failed(type(exc).__name__)
            self.looped.set()
            await asyncio.sleep(self._interval)

    async def stop(self, task: asyncio.Task[None]) -> None:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        with suppress(StoreError):  # the lease then lapses by itself
            await self.lease.release()

    def _failed(self, kind: str) -> None:
        if self._failing != kind:
            log.warning("alerts.paused", extra={"error": kind})
        self._failing = kind

    def _recovered(self) -> None:
        if self._failing is not None:
            log.info("alerts.resumed", extra={"after": self._failing})
        self._failing = None


def instance_name() -> str:
    """Who holds the lease: host and process, for ``alerts status``."""
    return f"{socket.gethostname()}:{os.getpid()}"


async def build_alerts(settings: Settings, stack: AsyncExitStack, *, crm: CrmClient, fetcher: ClueFetcher,
                       reads: WatchReads, client: AsyncWebClient, wall: Callable[[], float],
                       monotonic: Callable[[], float], url_for: Callable[[int], str],
                       start: bool = True) -> AlertService | None:
    """The alerts service (None without ``DATABASE_URL``): its schema migrated (a database that does not
    answer yet is retried by the loop) and, with ``start``, its loop running until ``stack`` closes."""
    if settings.database_url is None:
        return None
    db = connect(settings.database_url.reveal())
    stack.push_async_callback(db.aclose)
    store = AlertStore(db, wall)
    poller = NewCluePoller(crm, fetcher, store, tz=settings.tz, wall=wall,
                           lookback_seconds=settings.clue_alert_lookback_seconds,
                           max_pages=settings.clue_alert_max_pages, also_wanted=partial(anyone_linked, db))
    # One pacer: a channel gets at most one post (an alert or a watch's reply) per interval.
    pacer = ChannelPacer(settings.clue_alert_post_interval_seconds, monotonic)
    poster = AlertPoster(store, client, locale=settings.default_locale, url_for=url_for,
                         digest_over=settings.clue_alert_digest_over, pacer=pacer)
    watcher = ClueWatcher(WatchStore(db, wall), reads, client, pacer, locale=settings.default_locale,
                          url_for=url_for, interval=settings.clue_watch_check_seconds,
                          reads_per_round=settings.clue_watch_reads_per_round, wall=wall)
    lease = Lease(db, POLLER_LEASE, instance_name(), ttl=settings.clue_alert_lease_seconds, wall=wall)
    service = AlertService(db, store, poller, poster, lease, interval=settings.clue_alert_poll_seconds,
                           watcher=watcher)
    await service.migrate()
    if start:
        task = asyncio.create_task(service.run(), name="alerts.service")
        stack.push_async_callback(service.stop, task)
    return service
