"""``python -m bot migrate`` and ``python -m bot alerts status``: the alerts database from the command line."""

from __future__ import annotations

import time

from bot.alerts.service import POLLER_LEASE
from bot.config import Settings
from bot.errors import ConfigError
from bot.store.alerts import AlertStore
from bot.store.database import Database, connect
from bot.store.filters import describe
from bot.store.lease import Lease
from bot.store.watches import WatchStore


def _database(settings: Settings) -> Database:
    if settings.database_url is None:
        raise ConfigError(["DATABASE_URL is off: there is no alerts database"])
    return connect(settings.database_url.reveal())


async def migrate(settings: Settings) -> int:
    """Migrate and say what was applied; exit status 0 (a failure raises StoreError: 1)."""
    db = _database(settings)
    try:
        applied = await db.migrate()
        current, _ = await db.revision()
    finally:
        await db.aclose()
    print(f"{db.described}: " + (f"applied {', '.join(applied)}" if applied else f"schema {current} is current"))
    return 0


async def status(settings: Settings) -> int:
    """Subscriptions, the high-water mark, the lease holder, the backlog and the watched clues, as text."""
    db = _database(settings)
    try:
        store = AlertStore(db, time.time)
        summary = await store.status()
        listed = await store.subscriptions()
        watch_store = WatchStore(db, time.time)
        watching = await watch_store.status()
        watches = await watch_store.watches()
        holder = await Lease(db, POLLER_LEASE, "-", ttl=0, wall=time.time).current()
    finally:
        await db.aclose()
    print(f"database: {db.described}")
    print(f"high-water mark: {summary.high_water or 'not set (no poll yet)'}")
    if holder is None:
        print("poller lease: nobody holds it")
    else:
        left = holder.expires_at - time.time()
        state = f"expires in {left:.0f} s" if left > 0 else f"expired {-left:.0f} s ago"
        print(f"poller lease: {holder.holder} ({state})")
    print(f"backlog: {summary.pending} pending, {summary.posted} posted, {summary.seen} clues seen")
    print(f"subscriptions: {summary.subscriptions} ({summary.disabled} stopped)")
    for subscription in listed:
        what = describe(subscription.filters) or "every new clue"
        stopped = f" [stopped: {subscription.disabled_reason}]" if subscription.disabled_reason else ""
        print(f"  #{subscription.id} {subscription.channel_id} {what} by {subscription.created_by}{stopped}")
    print(f"watches: {watching.watches} ({watching.disabled} stopped); changes: {watching.pending} pending, "
          f"{watching.posted} posted")
    for watch in watches:
        checked = f"checked {time.time() - watch.checked_at:.0f} s ago" if watch.checked_at else "not checked yet"
        stopped = f" [stopped: {watch.disabled_reason}]" if watch.disabled_reason else ""
        thread = f", thread {watch.thread_ts}" if watch.thread_ts else ""
        print(f"  clue {watch.clue_id} in {watch.channel_id} by {watch.created_by}, {checked}{thread}{stopped}")
    return 0
