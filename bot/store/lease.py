"""A lease row: which instance runs a singleton (the alert poller), taken over once its holder stops renewing.

Works alike on SQLite and PostgreSQL: one conditional UPDATE (free, expired, or already ours) or, for a
lease never taken, an INSERT that a concurrent taker's primary key refuses. A holder that dies is replaced
within ``ttl`` seconds plus one attempt interval. Expiry is read on each instance's wall clock: their clocks
must agree to well within ``ttl`` (NTP does).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot.errors import StoreError
from bot.store.database import Database
from bot.store.schema import leases


class LeaseHolder(NamedTuple):
    holder: str
    expires_at: float


class Lease:
    def __init__(self, db: Database, name: str, holder: str, *, ttl: float, wall: Callable[[], float]) -> None:
        self._db = db
        self.name = name
        self.holder = holder
        self._ttl = ttl
        self._wall = wall

    async def acquire(self) -> bool:
        """Take or renew the lease; True while this instance holds it."""
        now = self._wall()
        try:
            async with self._db.engine.begin() as conn:
                taken = await conn.execute(
                    update(leases)
                    .where(leases.c.name == self.name)
                    .where((leases.c.holder == self.holder) | (leases.c.expires_at < now))
                    .values(holder=self.holder, expires_at=now + self._ttl))
                if taken.rowcount == 1:
                    return True
                exists = await conn.scalar(select(leases.c.name).where(leases.c.name == self.name))
                if exists is not None:
                    return False
            async with self._db.engine.begin() as conn:
                await conn.execute(leases.insert().values(name=self.name, holder=self.holder,
                                                          expires_at=now + self._ttl))
            return True
        except IntegrityError:
            return False  # another instance inserted it first
        except SQLAlchemyError as exc:
            raise StoreError(f"lease: {type(exc).__name__}") from exc

    async def release(self) -> None:
        """Give the lease up at once (a clean stop): another instance takes it on its next attempt."""
        try:
            async with self._db.engine.begin() as conn:
                await conn.execute(delete(leases).where(leases.c.name == self.name)
                                   .where(leases.c.holder == self.holder))
        except (SQLAlchemyError, OSError) as exc:
            raise StoreError(f"lease: {type(exc).__name__}") from exc

    async def current(self) -> LeaseHolder | None:
        async with self._db.engine.connect() as conn:
            row = (await conn.execute(select(leases.c.holder, leases.c.expires_at)
                                      .where(leases.c.name == self.name))).first()
        return LeaseHolder(row.holder, row.expires_at) if row else None
