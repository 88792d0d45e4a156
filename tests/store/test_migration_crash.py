"""kill -9 a process in the middle of a migration, then migrate again: the schema is as it was before, never
half made, and the next ``python -m bot migrate`` brings it up to date.

The killed process runs the real ``Database.migrate``; a cursor hook parks it at a chosen statement of the
migration chain (it writes a marker file, then sleeps), the way a debugger's breakpoint would, so the kill
lands mid-migration every time instead of by luck. On SQLite and on the suite's PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import inspect

from bot.store.database import connect
from tests.store.conftest import fresh_database

ROOT = Path(__file__).resolve().parents[2]
WAIT = 30.0
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}

# Parks the migration just before one statement of a later revision: earlier revisions' tables exist by then
# in the uncommitted transaction.
PARKED = textwrap.dedent("""
    import asyncio, sys, time
    from pathlib import Path
    from sqlalchemy import event
    from bot.store.database import connect

    url, marker, statement = sys.argv[1:4]
    db = connect(url)

    def park(conn, cursor, sql, params, context, many):
        if statement in sql:
            Path(marker).write_text("parked")
            time.sleep(600)

    event.listen(db.engine.sync_engine, "before_cursor_execute", park)
    asyncio.run(db.migrate())
""")


def tables_of(sync_conn: object) -> set[str]:
    return set(inspect(sync_conn).get_table_names())


def kill_parked(url: str, marker: Path, statement: str) -> None:
    """Start a migration, wait until it is parked at ``statement``, kill -9 it."""
    parked = subprocess.Popen([sys.executable, "-c", PARKED, url, str(marker), statement], cwd=ROOT, env=ENV,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + WAIT
        while not marker.exists():
            assert parked.poll() is None, "the migrating process ended before it was parked"
            assert time.monotonic() < deadline, "the migration never reached the statement"
            time.sleep(0.02)
        os.killpg(parked.pid, signal.SIGKILL)  # mid-migration: earlier statements ran, nothing committed
    finally:
        if parked.poll() is None:
            os.killpg(parked.pid, signal.SIGKILL)
        parked.wait()


def migrate_cli(url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", "migrate"], cwd=ROOT, timeout=WAIT,
                          env={**ENV, "DATABASE_URL": url}, capture_output=True, text=True, check=False)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
@pytest.mark.parametrize("statement", ["CREATE TABLE watch_changes", "CREATE TABLE people"])
async def test_killed_mid_migration_the_schema_is_untouched_and_the_next_migrate_finishes(
        kind: str, statement: str, tmp_path: Path) -> None:
    emptied = await fresh_database(kind, tmp_path)
    url = emptied.engine.url.render_as_string(hide_password=False)
    await emptied.aclose()
    await asyncio.to_thread(kill_parked, url, tmp_path / "parked", statement)

    db = connect(url)
    try:
        current, newest = await db.revision()
        async with db.engine.connect() as conn:
            left = await conn.run_sync(tables_of)
        assert current is None and left <= {"alembic_version"}, (current, left)  # as before: empty

        migrated = await asyncio.to_thread(migrate_cli, url)
        assert migrated.returncode == 0, migrated.stderr[-2000:]
        current, _ = await db.revision()
        async with db.engine.connect() as conn:
            made = await conn.run_sync(tables_of)
        assert current == newest and {"subscriptions", "watch_changes", "people"} <= made
    finally:
        await db.aclose()
