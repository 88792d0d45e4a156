"""People: who each Slack person is in the CRM (a confirmed or admin-set link), and their nudge setting.

A link is never guessed: it is written only when the person confirms a match (``/clue me``, Yes) or an admin
sets it (``/clue link``); ``unlink`` deletes the row. The nudge columns live on the same row: a person without
a link has nothing to be nudged about.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, delete, func, select, update

from bot.store.database import Database, Guarded, Queries, insert_ignoring_duplicates
from bot.store.schema import assignments, nudges, people, poll_state, seen_clues

CONFIRMED, ADMIN = "confirmed", "admin"  # how a link was made
# nudge rows: written before the DM is posted, then posted; dropped when found too late; empty when nothing was due
NUDGE_PENDING, NUDGE_POSTED, NUDGE_DROPPED, NUDGE_EMPTY = "pending", "posted", "dropped", "empty"
ASSIGNED_CURSOR = "assigned_to_you"  # poll_state: the seen_at up to which new clues were checked for owners
SEEN_BATCH = 500


@dataclass(frozen=True, slots=True)
class PersonLink:
    user_id: str
    team_id: str
    sales_id: str
    crm_name: str
    how: str
    linked_by: str
    linked_at: float
    nudge_at: str | None = None  # "HH:MM" in ``tz``; None: no nudge
    tz: str | None = None
    nudged_through: float | None = None
    locale: str | None = None  # the language chosen in Home; None: Slack's


class PeopleStore(Queries):
    async def link(self, user_id: str, team_id: str, sales_id: str, crm_name: str, *, how: str,
                   linked_by: str) -> PersonLink:
        """Link ``user_id`` to CRM user ``sales_id`` (replacing an earlier link; a nudge setting is kept)."""
        values = {"team_id": team_id, "sales_id": sales_id, "crm_name": crm_name[:128], "how": how,
                  "linked_by": linked_by, "linked_at": self._wall()}
        async with self._write() as conn:
            changed = await conn.execute(update(people).where(people.c.user_id == user_id).values(**values))
            if changed.rowcount == 0:
                await conn.execute(people.insert().values(user_id=user_id, **values))
        found = await self.linked(user_id)
        assert found is not None  # noqa: S101 - written just above
        return found

    async def linked(self, user_id: str) -> PersonLink | None:
        async with self._read() as conn:
            row = (await conn.execute(select(people).where(people.c.user_id == user_id))).first()
        return _link(row._mapping) if row is not None else None

    async def unlink(self, user_id: str) -> bool:
        """Delete the link (and the nudge with it); False when there was none."""
        async with self._write() as conn:
            gone = await conn.execute(delete(people).where(people.c.user_id == user_id))
        return bool(gone.rowcount)

    async def set_nudge(self, user_id: str, at: str | None, tz: str | None) -> bool:
        """Turn the morning nudge on at ``at`` ("HH:MM" in ``tz``) or off (None); False without a link."""
        async with self._write() as conn:
            changed = await conn.execute(update(people).where(people.c.user_id == user_id)
                                         .values(nudge_at=at, tz=tz))
        return bool(changed.rowcount)

    async def set_locale(self, user_id: str, locale: str | None) -> bool:
        """The language the person chose (None: back to Slack's); False without a link."""
        async with self._write() as conn:
            changed = await conn.execute(update(people).where(people.c.user_id == user_id).values(locale=locale))
        return bool(changed.rowcount)

    async def locale_of(self, user_id: str) -> str | None:
        """The language the person chose, or None (Slack's): one column of one row, read off the hot path."""
        async with self._read() as conn:
            return await conn.scalar(select(people.c.locale).where(people.c.user_id == user_id))

    async def nudged(self) -> list[PersonLink]:
        """Everyone with a nudge on."""
        async with self._read() as conn:
            rows = await conn.execute(select(people).where(people.c.nudge_at.is_not(None)).order_by(people.c.user_id))
            return [_link(row._mapping) for row in rows]

    async def claim_nudge(self, user_id: str, day: str) -> bool:
        """Take ``user_id``'s nudge of ``day`` (their local date): True for exactly one caller across a fleet."""
        return await _claim(self.db, nudges, {"user_id": user_id, "day": day, "created_at": self._wall()})

    async def release_nudge(self, user_id: str, day: str) -> None:
        """Give a claimed nudge back (the CRM failed before anything was posted): a later round may take it."""
        async with self._write() as conn:
            await conn.execute(delete(nudges).where(nudges.c.user_id == user_id).where(nudges.c.day == day)
                               .where(nudges.c.state == NUDGE_PENDING))

    async def settle_nudge(self, user_id: str, day: str, state: str, *, through: float | None = None) -> None:
        """Record what became of a claimed nudge; ``through``: the time its "new since" reached (posted only)."""
        async with self._write() as conn:
            await conn.execute(update(nudges).where(nudges.c.user_id == user_id).where(nudges.c.day == day)
                               .values(state=state, posted_at=self._wall() if state == NUDGE_POSTED else None))
            if through is not None:
                await conn.execute(update(people).where(people.c.user_id == user_id).values(nudged_through=through))

    async def nudge_states(self, user_id: str) -> dict[str, str]:
        """``day -> state`` of a person's nudges, for tests and the operator."""
        async with self._read() as conn:
            rows = await conn.execute(select(nudges.c.day, nudges.c.state).where(nudges.c.user_id == user_id))
            return {row.day: row.state for row in rows}


@dataclass(frozen=True, slots=True)
class SeenClue:
    clue_id: int
    seen_at: float
    clue_json: str


class Assignments(Queries):
    """Assigned to you: the new clues the alerts poller took in, read once each past a cursor of our own,
    and one row per (person, clue) written before the direct message."""

    async def cursor(self) -> float | None:
        async with self._read() as conn:
            mark = await conn.scalar(select(poll_state.c.high_water).where(poll_state.c.name == ASSIGNED_CURSOR))
        return float(mark) if mark is not None else None

    async def start_cursor(self) -> float:
        """The cursor's first position: the newest clue taken in so far (history is nobody's news)."""
        async with self._read() as conn:
            newest = await conn.scalar(select(func.max(seen_clues.c.seen_at)))
        await self.advance(float(newest or 0.0))
        return float(newest or 0.0)

    async def advance(self, seen_at: float) -> None:
        async with self._write() as conn:
            changed = await conn.execute(update(poll_state).where(poll_state.c.name == ASSIGNED_CURSOR)
                                         .values(high_water=repr(seen_at), updated_at=self._wall()))
            if changed.rowcount == 0:
                await conn.execute(poll_state.insert().values(name=ASSIGNED_CURSOR, high_water=repr(seen_at),
                                                              updated_at=self._wall()))

    async def seen_since(self, cursor: float) -> list[SeenClue]:
        """The clues taken in after ``cursor``, oldest first, at most ``SEEN_BATCH``."""
        async with self._read() as conn:
            rows = await conn.execute(select(seen_clues.c.clue_id, seen_clues.c.seen_at, seen_clues.c.clue_json)
                                      .where(seen_clues.c.seen_at > cursor).order_by(seen_clues.c.seen_at)
                                      .limit(SEEN_BATCH))
            return [SeenClue(row.clue_id, row.seen_at, row.clue_json) for row in rows]

    async def linked(self) -> list[PersonLink]:
        async with self._read() as conn:
            return [_link(row._mapping) for row in await conn.execute(select(people))]

    async def claim(self, user_id: str, clue_id: int) -> bool:
        """Take the (person, clue) message: True for exactly one caller across a fleet."""
        return await _claim(self.db, assignments, {"user_id": user_id, "clue_id": clue_id, "created_at": self._wall()})

    async def posted(self, user_id: str, clue_id: int) -> None:
        async with self._write() as conn:
            await conn.execute(update(assignments).where(assignments.c.user_id == user_id)
                               .where(assignments.c.clue_id == clue_id).values(state=NUDGE_POSTED))


async def anyone_linked(db: Database) -> bool:
    """Whether any Slack person is linked to a CRM user (then new clues are read for "assigned to you")."""
    async with Guarded(db, write=False) as conn:
        return await conn.scalar(select(people.c.user_id).limit(1)) is not None


async def _claim(db: Database, table: Table, row: dict[str, Any]) -> bool:
    """Insert a ``pending`` row unless its unique key is taken: True for the one caller whose insert it was."""
    async with Guarded(db, write=True) as conn:
        taken = list(await conn.scalars(insert_ignoring_duplicates(conn, table).returning(table.c.id),
                                        [{**row, "state": NUDGE_PENDING}]))
    return bool(taken)


def _link(row: Any) -> PersonLink:
    return PersonLink(user_id=row["user_id"], team_id=row["team_id"], sales_id=row["sales_id"],
                      crm_name=row["crm_name"], how=row["how"], linked_by=row["linked_by"],
                      linked_at=row["linked_at"], nudge_at=row["nudge_at"], tz=row["tz"],
                      nudged_through=row["nudged_through"], locale=row["locale"])
