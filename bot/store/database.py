"""One database: its engine, its schema migrated, and a ping for ``check`` and ``alerts status``.

``connect(url)`` takes SQLAlchemy URLs: ``sqlite+aiosqlite:///path`` (the default, an embedded file) or
``postgresql+asyncpg://…`` (``postgresql://`` and ``postgres://`` are read as asyncpg). Migrations run
through Alembic under a lock: PostgreSQL's transaction-scoped advisory lock, or a file lock beside a
SQLite file, so instances started at once migrate one after the other and a second run finds nothing to
do.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Insert, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bot.errors import StoreError

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
MIGRATION_LOCK_KEY = 0x636C7565  # "clue": the advisory lock migrations hold on PostgreSQL
SQLITE_BUSY_MS = 5000  # how long SQLite waits for another writer (a second process on the file)


def normalized_url(url: str) -> str:
    """The URL with its async driver named: ``postgres://`` and ``postgresql://`` mean asyncpg,
    ``sqlite://`` aiosqlite."""
    parsed = make_url(url)
    driver = {"postgres": "postgresql+asyncpg", "postgresql": "postgresql+asyncpg", "sqlite": "sqlite+aiosqlite"}
    name = driver.get(parsed.drivername, parsed.drivername)
    return parsed.set(drivername=name).render_as_string(hide_password=False)


class Database:
    """An async engine on one database, closed by ``aclose``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def described(self) -> str:
        """Where it is, without its password: ``sqlite: ./cluebot.db`` or ``postgresql: host:5432/db``."""
        url = self.engine.url
        if self.dialect == "sqlite":
            return f"sqlite: {url.database}"
        return f"postgresql: {url.host}:{url.port or 5432}/{url.database}"

    async def aclose(self) -> None:
        await self.engine.dispose()

    def count_commits(self, count: Callable[[], None]) -> None:
        """Call ``count`` on every committed transaction (the bench's "database writes per alert")."""
        event.listen(self.engine.sync_engine, "commit", lambda _connection: count())

    async def migrate(self) -> list[str]:
        """Bring the schema to the newest revision, in one transaction: a process killed midway leaves the
        schema as it was. The revisions applied (none when it was current)."""
        try:
            async with self._file_lock(), self.engine.begin() as conn:
                if self.dialect == "sqlite":
                    # Python's sqlite3 opens a transaction only before INSERT/UPDATE/DELETE: each CREATE TABLE
                    # would commit by itself, and a process killed midway would leave half a schema that the
                    # next migration trips over. An explicit BEGIN holds the whole chain in one transaction.
                    await conn.exec_driver_sql("BEGIN IMMEDIATE")
                return await conn.run_sync(_upgrade)
        except (SQLAlchemyError, OSError) as exc:
            raise StoreError(f"migration failed: {type(exc).__name__}") from exc

    async def revision(self) -> tuple[str | None, str]:
        """``(current, newest)`` schema revisions."""
        from alembic.runtime.migration import MigrationContext

        try:
            async with self.engine.connect() as conn:
                current = await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())
        except (SQLAlchemyError, OSError) as exc:
            raise StoreError(f"database unreachable: {type(exc).__name__}") from exc
        return current, _scripts().get_current_head() or ""

    async def ping(self) -> float:
        """Seconds one round trip took; raises ``StoreError`` when the database does not answer."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError) as exc:
            raise StoreError(f"database unreachable: {type(exc).__name__}") from exc
        return loop.time() - started

    @contextlib.asynccontextmanager
    async def _file_lock(self) -> AsyncIterator[None]:
        """SQLite has no advisory lock: a lock file beside the database serialises migrating processes
        (waited for in a thread, so another migration on this loop can finish and let go of it)."""
        path = self.engine.url.database
        if self.dialect != "sqlite" or not path or path == ":memory:":
            yield
            return
        with open(f"{path}.migrate-lock", "a+b") as handle:  # noqa: ASYNC230 - creating an empty file
            await asyncio.to_thread(fcntl.flock, handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def connect(url: str, *, echo: bool = False) -> Database:
    """An engine for ``url`` (nothing is connected until first use)."""
    full = normalized_url(url)
    options: dict[str, Any] = {"echo": echo, "pool_pre_ping": True}
    if full.startswith("sqlite"):
        options["connect_args"] = {"timeout": SQLITE_BUSY_MS / 1000}
    engine = create_async_engine(full, **options)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return Database(engine)


def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
    # WAL: readers never wait for the writer; foreign keys: a deleted subscription takes its deliveries.
    cursor = dbapi_connection.cursor()
    for pragma in ("journal_mode=WAL", f"busy_timeout={SQLITE_BUSY_MS}", "foreign_keys=ON", "synchronous=NORMAL"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config())


def _config() -> Config:
    # Alembic (and Mako under it) load only to migrate: ~0.2 s of start-up otherwise spent on every import.
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _upgrade(conn: Connection) -> list[str]:
    # Alembic narrates each step at INFO, its plugins as they load on import: store.migrated below is the one
    # line the operator needs, so it is quieted before the import.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    before = MigrationContext.configure(conn).get_current_revision()
    config = _config()
    config.attributes["connection"] = conn
    command.upgrade(config, "head")
    after = MigrationContext.configure(conn).get_current_revision()
    if before == after:
        return []
    scripts = _scripts()
    applied = [s.revision for s in scripts.iterate_revisions(after, before)]
    log.info("store.migrated", extra={"from": before, "to": after})
    return list(reversed(applied))


class Queries:
    """What a store of queries holds: the database, and the wall clock its rows are stamped with."""

    def __init__(self, db: Database, wall: Callable[[], float]) -> None:
        self.db = db
        self._wall = wall

    def _write(self) -> Guarded:
        return Guarded(self.db, write=True)

    def _read(self) -> Guarded:
        return Guarded(self.db, write=False)


class Guarded:
    """A connection (a transaction when writing) whose database failures surface as ``StoreError``."""

    def __init__(self, db: Database, *, write: bool) -> None:
        self._context = db.engine.begin() if write else db.engine.connect()

    async def __aenter__(self) -> AsyncConnection:
        try:
            return await self._context.__aenter__()
        except (SQLAlchemyError, OSError) as exc:
            raise StoreError(f"database: {type(exc).__name__}") from exc

    async def __aexit__(self, *exc_info: Any) -> None:
        try:
            await self._context.__aexit__(*exc_info)
        except (SQLAlchemyError, OSError) as exc:
            raise StoreError(f"database: {type(exc).__name__}") from exc
        if exc_info[0] is not None and issubclass(exc_info[0], SQLAlchemyError):
            raise StoreError(f"database: {exc_info[0].__name__}") from exc_info[1]


def chunks(ids: Sequence[int], size: int = 1000) -> list[Sequence[int]]:
    """Bounded IN lists: PostgreSQL takes at most 32,767 parameters in one statement."""
    return [ids[start:start + size] for start in range(0, len(ids), size)]


def insert_ignoring_duplicates(conn: AsyncConnection, table: Any) -> Insert:
    """INSERT … ON CONFLICT DO NOTHING in the connection's dialect (its module is loaded by its engine)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert(table).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).on_conflict_do_nothing()
