"""The store suite runs on SQLite and on a real PostgreSQL server (``.ci/postgres`` starts one for CI).

``POSTGRES_TEST_URL`` names it. Outside CI a missing server skips the PostgreSQL half with the reason;
under ``CI=true`` it fails, so a broken set-up cannot pass as green. Each pytest-xdist worker gets a database
of its own on that server (``<name>_gw0``…): tests of two files running at once never empty each other's.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.store.database import Database, connect
from bot.store.schema import metadata

POSTGRES_ENV = "POSTGRES_TEST_URL"


def postgres_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{POSTGRES_ENV} is not set: .ci/run must start PostgreSQL (.ci/postgres start)")
        pytest.skip(f"no PostgreSQL server: set {POSTGRES_ENV} (eval \"$(.ci/postgres start)\")")
    return url


async def worker_postgres_url() -> str:
    """This worker's database on the test server (created the first time), or the server's own without xdist."""
    url = make_url(postgres_url())
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url.render_as_string(hide_password=False)
    import asyncpg

    name = f"{url.database}_{worker}"
    server = await asyncpg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        if not await server.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):  # another process created it meanwhile
                await server.execute(f'CREATE DATABASE "{name}"')
    finally:
        await server.close()
    return url.set(database=name).render_as_string(hide_password=False)


async def fresh_database(kind: str, tmp_path: Path) -> Database:
    """An empty database of ``kind`` ("sqlite" or "postgresql"), not yet migrated."""
    if kind == "sqlite":
        return connect(f"sqlite+aiosqlite:///{tmp_path / 'alerts.db'}")
    db = connect(await worker_postgres_url())
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
        await conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    return db


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    db = await fresh_database(request.param, tmp_path)
    await db.migrate()
    try:
        yield db
    finally:
        await db.aclose()
