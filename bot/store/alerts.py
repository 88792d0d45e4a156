"""Subscriptions, the poll cursor, seen clues and deliveries: every query the alerts make.

The delivery protocol (issue 22 item 6): ``take_in`` writes, in one transaction, the clues a poll found,
a ``pending`` delivery per matching subscription, and the advanced high-water mark, so a crash before
it commits re-polls the same page and one after it finds the deliveries waiting. The poster marks a row
``attempts + 1`` before it posts and ``posted`` with Slack's ts after: a row found pending with attempts
may have reached Slack before a crash, and the poster looks for it there before posting again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.clue import Clue
from bot.store import filters as filter_codec
from bot.store.database import Queries, chunks, insert_ignoring_duplicates
from bot.store.filters import Filters
from bot.store.schema import deliveries, poll_state, seen_clues, subscriptions

NEW_CLUES = "new_clues"  # the poll cursor's name
CREATED = "created"  # the event of a new clue
PENDING, POSTED, DROPPED = "pending", "posted", "dropped"
PENDING_LIMIT = 100_000  # deliveries one round posts at most (10,000 new clues x 10 channels); the rest next round


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    team_id: str
    channel_id: str
    filters: Filters
    created_by: str
    created_at: float
    disabled_reason: str | None

    @property
    def active(self) -> bool:
        return self.disabled_reason is None


@dataclass(frozen=True, slots=True)
class NewClue:
    """A clue a poll found: what is known of it (resolved, or a stub with its id) and its createTime."""

    clue: Clue
    create_time: str | None


@dataclass(frozen=True, slots=True)
class PendingDelivery:
    id: int
    subscription_id: int
    channel_id: str
    clue: Clue
    attempts: int
    created_at: float


@dataclass(frozen=True, slots=True)
class AlertStatus:
    subscriptions: int
    disabled: int
    high_water: str | None
    pending: int
    posted: int
    seen: int


class AlertStore(Queries):

    # ------------------------------------------------------------ subscriptions

    async def subscribe(self, team_id: str, channel_id: str, filters: Filters, user_id: str) -> Subscription:
        """A new subscription (the same filters again in a channel re-enable the existing one)."""
        encoded = filter_codec.encode(filters)
        async with self._write() as conn:
            existing = (await conn.execute(select(subscriptions).where(subscriptions.c.channel_id == channel_id)
                                           .where(subscriptions.c.filters == encoded))).first()
            if existing is not None:
                await conn.execute(update(subscriptions).where(subscriptions.c.id == existing.id)
                                   .values(disabled_reason=None))
                return _subscription({**existing._mapping, "disabled_reason": None})
            values = {"team_id": team_id, "channel_id": channel_id, "filters": encoded, "created_by": user_id,
                      "created_at": self._wall(), "disabled_reason": None}
            result = await conn.execute(subscriptions.insert().values(**values))
            key = result.inserted_primary_key
            assert key is not None  # noqa: S101 - an INSERT of one row always has it
            return _subscription({"id": key[0], **values})

    async def subscriptions(self, channel_id: str | None = None) -> list[Subscription]:
        """A channel's subscriptions (every one without ``channel_id``), oldest first: ``/clue unsubscribe n``
        counts in this order."""
        query = select(subscriptions).order_by(subscriptions.c.id)
        if channel_id is not None:
            query = query.where(subscriptions.c.channel_id == channel_id)
        async with self._read() as conn:
            return [_subscription(row._mapping) for row in await conn.execute(query)]

    async def unsubscribe(self, channel_id: str, number: int) -> Subscription | None:
        """Remove the channel's ``number``-th subscription (1-based, as listed); None when there is none."""
        listed = await self.subscriptions(channel_id)
        if not 1 <= number <= len(listed):
            return None
        gone = listed[number - 1]
        async with self._write() as conn:
            await conn.execute(delete(deliveries).where(deliveries.c.subscription_id == gone.id))
            await conn.execute(delete(subscriptions).where(subscriptions.c.id == gone.id))
        return gone

    async def disable(self, subscription_id: int, reason: str) -> None:
        """Stop alerting a subscription whose channel Slack refuses; its waiting deliveries are dropped."""
        async with self._write() as conn:
            await conn.execute(update(subscriptions).where(subscriptions.c.id == subscription_id)
                               .values(disabled_reason=reason[:64]))
            await conn.execute(update(deliveries).where(deliveries.c.subscription_id == subscription_id)
                               .where(deliveries.c.state == PENDING).values(state=DROPPED))

    # ------------------------------------------------------------ the poll

    async def high_water(self) -> str | None:
        async with self._read() as conn:
            return await conn.scalar(select(poll_state.c.high_water).where(poll_state.c.name == NEW_CLUES))

    async def set_high_water(self, mark: str) -> None:
        async with self._write() as conn:
            await self._advance(conn, mark)

    async def seen(self, clue_ids: Iterable[int]) -> set[int]:
        """Which of these clues were taken in already."""
        ids = list(set(clue_ids))
        found: set[int] = set()
        async with self._read() as conn:
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                found.update(await conn.scalars(select(seen_clues.c.clue_id).where(seen_clues.c.clue_id.in_(chunk))))
        return found

    async def take_in(self, found: Sequence[NewClue], high_water: str | None,
                      wanted: Callable[[Subscription, Clue], bool]) -> int:
        """Record new clues, a pending delivery per subscription that wants each, and the high-water mark,
        in one transaction; the number of deliveries written. Clues seen before are skipped."""
        now = self._wall()
        written = 0
        active = [s for s in await self.subscriptions() if s.active]
        already = await self.seen(n.clue.id for n in found)
        fresh = list({n.clue.id: n for n in found if n.clue.id not in already}.values())
        async with self._write() as conn:
            if fresh:
                # Only the clues this transaction inserted get deliveries (another writer's are its own).
                inserted = set(await conn.scalars(
                    insert_ignoring_duplicates(conn, seen_clues).returning(seen_clues.c.clue_id),
                    [{"clue_id": n.clue.id, "create_time": n.create_time, "clue_json": n.clue.to_json(),
                      "seen_at": now} for n in fresh]))
                rows = [{"subscription_id": s.id, "channel_id": s.channel_id, "clue_id": n.clue.id, "event": CREATED,
                         "state": PENDING, "attempts": 0, "created_at": now}
                        for n in fresh if n.clue.id in inserted for s in active if wanted(s, n.clue)]
                if rows:
                    written = len(list(await conn.scalars(
                        insert_ignoring_duplicates(conn, deliveries).returning(deliveries.c.id), rows)))
            if high_water is not None:
                await self._advance(conn, high_water)
        return written

    # ------------------------------------------------------------ deliveries

    async def pending(self, limit: int = PENDING_LIMIT) -> list[PendingDelivery]:
        """Deliveries waiting to be posted to active subscriptions, oldest first (each clue read once, however
        many subscriptions want it)."""
        query = (select(deliveries.c.id, deliveries.c.subscription_id, deliveries.c.channel_id, deliveries.c.attempts,
                        deliveries.c.created_at, deliveries.c.clue_id)
                 .join(subscriptions, subscriptions.c.id == deliveries.c.subscription_id)
                 .where(deliveries.c.state == PENDING).where(subscriptions.c.disabled_reason.is_(None))
                 .order_by(deliveries.c.id).limit(limit))
        clues: dict[int, Clue] = {}
        async with self._read() as conn:
            rows = list(await conn.execute(query))
            wanted = sorted({row.clue_id for row in rows})
            for start in range(0, len(wanted), 500):
                chunk = wanted[start:start + 500]
                for clue_id, text in await conn.execute(select(seen_clues.c.clue_id, seen_clues.c.clue_json)
                                                        .where(seen_clues.c.clue_id.in_(chunk))):
                    clue = Clue.from_json(text)
                    if clue is not None:
                        clues[clue_id] = clue
        return [PendingDelivery(row.id, row.subscription_id, row.channel_id, clues[row.clue_id], row.attempts,
                                row.created_at) for row in rows if row.clue_id in clues]

    async def attempting(self, ids: Sequence[int]) -> None:
        """Count a post attempt before it is made (a crash after it leaves the row marked as maybe posted)."""
        async with self._write() as conn:
            for chunk in chunks(ids):
                await conn.execute(update(deliveries).where(deliveries.c.id.in_(chunk))
                                   .values(attempts=deliveries.c.attempts + 1))

    async def posted(self, ids: Sequence[int], message_ts: str | None) -> None:
        async with self._write() as conn:
            for chunk in chunks(ids):
                await conn.execute(update(deliveries).where(deliveries.c.id.in_(chunk))
                                   .values(state=POSTED, message_ts=message_ts, posted_at=self._wall()))

    async def delivered(self, subscription_id: int | None = None) -> list[tuple[int, str | None]]:
        """``(clue id, message ts)`` of posted deliveries, for tests and ``alerts status``."""
        query = select(deliveries.c.clue_id, deliveries.c.message_ts).where(deliveries.c.state == POSTED)
        if subscription_id is not None:
            query = query.where(deliveries.c.subscription_id == subscription_id)
        async with self._read() as conn:
            return [(row.clue_id, row.message_ts) for row in await conn.execute(query.order_by(deliveries.c.id))]

    async def status(self) -> AlertStatus:
        async with self._read() as conn:
            subs = list(await conn.execute(select(subscriptions.c.disabled_reason)))
            states = dict((row.state, row.n) for row in await conn.execute(
                select(deliveries.c.state, func.count().label("n")).group_by(deliveries.c.state)))
            seen = await conn.scalar(select(func.count()).select_from(seen_clues)) or 0
            mark = await conn.scalar(select(poll_state.c.high_water).where(poll_state.c.name == NEW_CLUES))
        return AlertStatus(subscriptions=len(subs), disabled=sum(1 for s in subs if s.disabled_reason),
                           high_water=mark, pending=states.get(PENDING, 0), posted=states.get(POSTED, 0), seen=seen)

    # ------------------------------------------------------------ plumbing

    async def _advance(self, conn: AsyncConnection, mark: str) -> None:
        """Move the high-water mark forward (never back)."""
        now = self._wall()
        current = await conn.scalar(select(poll_state.c.high_water).where(poll_state.c.name == NEW_CLUES))
        if current is None:
            await conn.execute(poll_state.insert().values(name=NEW_CLUES, high_water=mark, updated_at=now))
        elif mark > current:
            await conn.execute(update(poll_state).where(poll_state.c.name == NEW_CLUES)
                               .values(high_water=mark, updated_at=now))


def _subscription(row: Any) -> Subscription:
    return Subscription(id=row["id"], team_id=row["team_id"], channel_id=row["channel_id"],
                        filters=filter_codec.decode(row["filters"]), created_by=row["created_by"],
                        created_at=row["created_at"], disabled_reason=row["disabled_reason"])
