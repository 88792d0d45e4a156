"""Watched clues: every query the watches make (issue 22 item 3).

A watch holds the fingerprint of what its clue's card shows and the snapshot it was taken of (opaque text
here: ``bot.domain.changes`` makes and reads them). ``record`` compares a new fingerprint with each watch
of the clue and, for each that differs, writes the change and the new fingerprint in one transaction: a
crash before it commits re-reads the clue next round (and finds the same change), one after it finds the
change pending. Posting follows the deliveries' protocol: ``attempting`` before ``chat.postMessage``,
``posted`` with Slack's ts after (the ts becomes the watch's thread when it had none).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.alerts import DROPPED, PENDING, POSTED
from bot.store.database import Queries, chunks
from bot.store.schema import deliveries, watch_changes, watches

CHANGES_LIMIT = 10_000  # changes one round posts at most; the rest next round


@dataclass(frozen=True, slots=True)
class Watch:
    id: int
    team_id: str
    channel_id: str
    clue_id: int
    created_by: str
    created_at: float
    thread_ts: str | None  # the alert or card replies go under; None until the first reply is posted
    fingerprint: str | None  # None until the first check
    snapshot: str | None
    checked_at: float | None
    disabled_reason: str | None

    @property
    def active(self) -> bool:
        return self.disabled_reason is None


@dataclass(frozen=True, slots=True)
class PendingChange:
    id: int
    watch_id: int
    channel_id: str
    clue_id: int
    thread_ts: str | None  # the watch's thread when the change was read
    before: str
    after: str
    attempts: int
    created_at: float


@dataclass(frozen=True, slots=True)
class WatchStatus:
    watches: int
    disabled: int
    pending: int
    posted: int


class WatchStore(Queries):

    async def watch(self, team_id: str, channel_id: str, clue_id: int, user_id: str,
                    thread_ts: str | None = None) -> Watch:
        """Watch ``clue_id`` in a channel (again: re-enabled). ``thread_ts``, the message the Watch button was
        clicked on, becomes its thread; without one, the clue's last alert in the channel, if any."""
        async with self._write() as conn:
            if thread_ts is None:
                thread_ts = await conn.scalar(
                    select(deliveries.c.message_ts).where(deliveries.c.channel_id == channel_id)
                    .where(deliveries.c.clue_id == clue_id).where(deliveries.c.state == POSTED)
                    .where(deliveries.c.message_ts.is_not(None)).order_by(deliveries.c.id.desc()).limit(1))
            existing = await self._one(conn, channel_id, clue_id)
            if existing is not None:
                changes: dict[str, Any] = {"disabled_reason": None}
                if thread_ts is not None:
                    changes["thread_ts"] = thread_ts
                await conn.execute(update(watches).where(watches.c.id == existing.id).values(**changes))
                return _watch({**existing._mapping, **changes})
            values = {"team_id": team_id, "channel_id": channel_id, "clue_id": clue_id, "created_by": user_id,
                      "created_at": self._wall(), "thread_ts": thread_ts, "fingerprint": None, "snapshot": None,
                      "checked_at": None, "disabled_reason": None}
            result = await conn.execute(watches.insert().values(**values))
            key = result.inserted_primary_key
            assert key is not None  # noqa: S101 - an INSERT of one row always has it
            return _watch({"id": key[0], **values})

    async def unwatch(self, channel_id: str, clue_id: int) -> Watch | None:
        """Stop watching (its unposted changes go with it); None when the channel did not watch the clue."""
        async with self._write() as conn:
            found = await self._one(conn, channel_id, clue_id)
            if found is None:
                return None
            await conn.execute(delete(watch_changes).where(watch_changes.c.watch_id == found.id))
            await conn.execute(delete(watches).where(watches.c.id == found.id))
            return _watch(found._mapping)

    async def watches(self, channel_id: str | None = None, clue_id: int | None = None) -> list[Watch]:
        """A channel's watches (or a clue's, or every one), oldest first."""
        query = select(watches).order_by(watches.c.id)
        if channel_id is not None:
            query = query.where(watches.c.channel_id == channel_id)
        if clue_id is not None:
            query = query.where(watches.c.clue_id == clue_id)
        async with self._read() as conn:
            return [_watch(row._mapping) for row in await conn.execute(query)]

    async def due(self, checked_before: float, limit: int) -> list[int]:
        """Clues with an active watch not checked since ``checked_before``, the longest unchecked first (never
        checked before all), at most ``limit``: each is read once however many channels watch it."""
        oldest = func.min(func.coalesce(watches.c.checked_at, -1.0)).label("oldest")
        query = (select(watches.c.clue_id, oldest).where(watches.c.disabled_reason.is_(None))
                 .where(watches.c.checked_at.is_(None) | (watches.c.checked_at < checked_before))
                 .group_by(watches.c.clue_id).order_by(oldest, watches.c.clue_id).limit(limit))
        async with self._read() as conn:
            return [row.clue_id for row in await conn.execute(query)]

    async def record(self, clue_id: int, snapshot: str, fingerprint: str) -> list[str]:
        """What a check of ``clue_id`` read: a watch's first read stores it; a different fingerprint writes a
        pending change with the new fingerprint (one transaction); the same one only the time. The snapshots
        replaced by the changes written (one per change). Each update is conditional on the fingerprint it
        replaces, so two checks racing (the poll and a push's recheck) write one change."""
        now = self._wall()
        replaced: list[str] = []
        async with self._write() as conn:
            rows = list(await conn.execute(select(watches).where(watches.c.clue_id == clue_id)
                                           .where(watches.c.disabled_reason.is_(None))))
            for row in rows:
                if row.fingerprint == fingerprint:
                    await conn.execute(update(watches).where(watches.c.id == row.id).values(checked_at=now))
                    continue
                same = (watches.c.fingerprint.is_(None) if row.fingerprint is None
                        else watches.c.fingerprint == row.fingerprint)
                taken = await conn.execute(update(watches).where(watches.c.id == row.id).where(same)
                                           .values(fingerprint=fingerprint, snapshot=snapshot, checked_at=now))
                if taken.rowcount == 1 and row.fingerprint is not None and row.snapshot is not None:
                    await conn.execute(watch_changes.insert().values(
                        watch_id=row.id, channel_id=row.channel_id, clue_id=clue_id, before=row.snapshot,
                        after=snapshot, state=PENDING, attempts=0, created_at=now))
                    replaced.append(row.snapshot)
        return replaced

    async def checked(self, clue_id: int) -> None:
        """A check that could not read the clue (not found, a bad answer): it waits its turn again, its
        fingerprint unchanged."""
        async with self._write() as conn:
            await conn.execute(update(watches).where(watches.c.clue_id == clue_id)
                               .values(checked_at=self._wall()))

    async def pending(self, limit: int = CHANGES_LIMIT) -> list[PendingChange]:
        """Changes waiting to be posted for active watches, oldest first."""
        query = (select(watch_changes, watches.c.thread_ts)
                 .join(watches, watches.c.id == watch_changes.c.watch_id)
                 .where(watch_changes.c.state == PENDING).where(watches.c.disabled_reason.is_(None))
                 .order_by(watch_changes.c.id).limit(limit))
        async with self._read() as conn:
            return [PendingChange(row.id, row.watch_id, row.channel_id, row.clue_id, row.thread_ts, row.before,
                                  row.after, row.attempts, row.created_at) for row in await conn.execute(query)]

    async def attempting(self, change_id: int) -> None:
        """Count a post attempt before it is made (a crash after it leaves the change marked as maybe posted)."""
        async with self._write() as conn:
            await conn.execute(update(watch_changes).where(watch_changes.c.id == change_id)
                               .values(attempts=watch_changes.c.attempts + 1))

    async def posted(self, change: PendingChange, message_ts: str | None) -> None:
        """Mark a change posted; a watch without a thread keeps this message as its thread."""
        async with self._write() as conn:
            await conn.execute(update(watch_changes).where(watch_changes.c.id == change.id)
                               .values(state=POSTED, message_ts=message_ts, posted_at=self._wall()))
            if message_ts is not None:
                await conn.execute(update(watches).where(watches.c.id == change.watch_id)
                                   .where(watches.c.thread_ts.is_(None)).values(thread_ts=message_ts))

    async def disable(self, channel_id: str, reason: str) -> list[Watch]:
        """Stop the channel's watches (Slack refuses the channel); their unposted changes are dropped. The
        watches stopped."""
        async with self._write() as conn:
            stopped = [_watch(row._mapping) for row in await conn.execute(
                select(watches).where(watches.c.channel_id == channel_id).where(watches.c.disabled_reason.is_(None)))]
            ids = [w.id for w in stopped]
            for chunk in chunks(ids):
                await conn.execute(update(watches).where(watches.c.id.in_(chunk)).values(disabled_reason=reason[:64]))
                await conn.execute(update(watch_changes).where(watch_changes.c.watch_id.in_(chunk))
                                   .where(watch_changes.c.state == PENDING).values(state=DROPPED))
        return stopped

    async def status(self) -> WatchStatus:
        async with self._read() as conn:
            reasons = list(await conn.scalars(select(watches.c.disabled_reason)))
            states = dict((row.state, row.n) for row in await conn.execute(
                select(watch_changes.c.state, func.count().label("n")).group_by(watch_changes.c.state)))
        return WatchStatus(watches=len(reasons), disabled=sum(1 for r in reasons if r),
                           pending=states.get(PENDING, 0), posted=states.get(POSTED, 0))

    @staticmethod
    async def _one(conn: AsyncConnection, channel_id: str, clue_id: int) -> Any:
        return (await conn.execute(select(watches).where(watches.c.channel_id == channel_id)
                                   .where(watches.c.clue_id == clue_id))).first()


def _watch(row: Any) -> Watch:
    return Watch(id=row["id"], team_id=row["team_id"], channel_id=row["channel_id"], clue_id=row["clue_id"],
                 created_by=row["created_by"], created_at=row["created_at"], thread_ts=row["thread_ts"],
                 fingerprint=row["fingerprint"], snapshot=row["snapshot"], checked_at=row["checked_at"],
                 disabled_reason=row["disabled_reason"])

