"""kill -9 the app mid-poll and mid-post, start it again, and count the alerts (and watch replies) Slack received.

A real ``python -m bot serve`` subprocess against the sandbox CRM and the fake Slack on loopback, with an
SQLite file as its database. Each restart is a new process (another lease holder), so it takes over once the
dead one's lease lapses (``CLUE_ALERT_LEASE_SECONDS=1``). Waits are bounded polls of the outcome, not timings.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

from bot.config import SANDBOX_APP_ID, SANDBOX_APP_KEY
from bot.crm.client import CLUE_GET
from bot.dev.playground.fake_slack import FakeSlackState
from bot.dev.sandbox import SandboxServer
from bot.dev.sandbox.seed import DOC_CLUE_ID
from bot.domain.changes import Snapshot
from bot.store.alerts import AlertStore
from bot.store.database import Database, connect
from bot.store.watches import WatchStore
from tests.redis_server import free_port
from tests.slack.harness import BOT_TOKEN, CHANNEL, SIGNING_SECRET, TEAM, USER

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")
SHANGHAI = ZoneInfo("Asia/Shanghai")
LIST_PATH = "/api/v3/clue/list-by-create-time-asc"
WAIT = 30.0  # seconds any one outcome may take on a loaded machine


def crm_time(at: float) -> str:
    return datetime.fromtimestamp(at, SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def wait_for(what: str, condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


async def prepared(path: Path, fill: Callable[[Database], Awaitable[object]]) -> str:
    """A migrated SQLite database at ``path``, filled by ``fill``; its URL."""
    url = f"sqlite+aiosqlite:///{path}"
    db = connect(url)
    await db.migrate()
    await fill(db)
    await db.aclose()
    return url


async def prepared_database(path: Path) -> str:
    """A migrated database with one subscription (every new clue into CHANNEL) and the mark a minute ago."""
    async def subscribed(db: Database) -> None:
        store = AlertStore(db, time.time)
        await store.subscribe(TEAM, CHANNEL, {}, USER)
        await store.set_high_water(crm_time(time.time() - 60))

    return await prepared(path, subscribed)


def read_back(url: str, read: Callable[[Database], Awaitable[T]]) -> T:
    """What ``read`` finds in the database, through a connection of this test's own."""
    async def run() -> T:
        db = connect(url)
        try:
            return await read(db)
        finally:
            await db.aclose()

    return asyncio.run(run())


def status(url: str) -> tuple[int, int]:
    """(pending, posted) deliveries."""
    summary = read_back(url, lambda db: AlertStore(db, time.time).status())
    return summary.pending, summary.posted


@contextmanager
def app_process(sandbox: SandboxServer, fake_url: str, database_url: str, log: Path,
                **extra: str) -> Iterator[subprocess.Popen[bytes]]:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CRM_", "CLUE_", "DATABASE_"))},
           "CRM_BASE_URL": sandbox.url, "CRM_APP_ID": SANDBOX_APP_ID, "CRM_APP_KEY": SANDBOX_APP_KEY,
           "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": fake_url + "/api/",
           "DATABASE_URL": database_url, "CLUE_ALERT_POLL_SECONDS": "0.2", "CLUE_ALERT_LEASE_SECONDS": "1",
           "CLUE_ALERT_POST_INTERVAL_SECONDS": "0", "CLUE_ALERT_DIGEST_OVER": "1000", "LOG_LEVEL": "INFO", **extra}
    with log.open("ab") as out:
        process = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--port", str(free_port())], cwd=ROOT,
                                   env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def kill_9(process: subprocess.Popen[bytes]) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def posted_clues(state: FakeSlackState) -> Counter[str]:
    """How many times Slack accepted an alert naming each lead."""
    return Counter(str(m["text"]).removeprefix("New clue: ") for m in state.channel_messages(CHANNEL))


def test_killed_mid_post_nothing_lost_nothing_twice(sandbox: SandboxServer, fake_slack: tuple[str, FakeSlackState],
                                                    tmp_path: Path) -> None:
    fake_url, state = fake_slack
    url = asyncio.run(prepared_database(tmp_path / "alerts.db"))
    state.latency["chat.postMessage"] = 30.0  # Slack accepts the post, its answer never comes back in time
    leads = sandbox.state.add_leads(3, created=crm_time(time.time() - 2))
    with app_process(sandbox, fake_url, url, tmp_path / "app.log") as first:
        wait_for("Slack to accept the first alert", lambda: len(state.channel_messages(CHANNEL)) == 1)
        kill_9(first)  # after Slack accepted, before the ts came back and was written
    assert status(url) == (3, 0)
    state.latency.clear()
    with app_process(sandbox, fake_url, url, tmp_path / "app.log"):
        wait_for("every delivery posted", lambda: status(url) == (0, 3))
    assert posted_clues(state) == Counter({f"新线索 {n - leads[0] + 1}": 1 for n in leads}), \
        (tmp_path / "app.log").read_text()[-3000:]


def test_killed_mid_poll_nothing_lost(sandbox: SandboxServer, fake_slack: tuple[str, FakeSlackState],
                                      tmp_path: Path) -> None:
    fake_url, state = fake_slack
    url = asyncio.run(prepared_database(tmp_path / "alerts.db"))
    sandbox.state.set_fault(hang=True, endpoint=LIST_PATH)
    leads = sandbox.state.add_leads(4, created=crm_time(time.time() - 2))
    with app_process(sandbox, fake_url, url, tmp_path / "app.log") as first:
        wait_for("a poll to be in flight", lambda: sandbox.state.stats().held >= 1)
        kill_9(first)
    assert status(url) == (0, 0) and state.channel_messages(CHANNEL) == []
    sandbox.state.clear_faults()
    with app_process(sandbox, fake_url, url, tmp_path / "app.log"):
        wait_for("every delivery posted", lambda: status(url) == (0, 4))
    assert posted_clues(state) == Counter({f"新线索 {n - leads[0] + 1}": 1 for n in leads})


def test_without_history_access_the_accepted_alert_is_posted_again_and_only_that_one(
        sandbox: SandboxServer, fake_slack: tuple[str, FakeSlackState], tmp_path: Path) -> None:
    """The residual risk, measured: without channels:history the post Slack accepted just before the kill
    goes out a second time (at least once); nothing is lost and no other alert repeats."""
    fake_url, state = fake_slack
    url = asyncio.run(prepared_database(tmp_path / "alerts.db"))
    state.latency["chat.postMessage"] = 30.0
    state.errors["conversations.history"] = "missing_scope"
    leads = sandbox.state.add_leads(3, created=crm_time(time.time() - 2))
    with app_process(sandbox, fake_url, url, tmp_path / "app.log") as first:
        wait_for("Slack to accept the first alert", lambda: len(state.channel_messages(CHANNEL)) == 1)
        kill_9(first)
    state.latency.clear()
    with app_process(sandbox, fake_url, url, tmp_path / "app.log"):
        wait_for("every delivery posted", lambda: status(url) == (0, 3))
    counts = posted_clues(state)
    assert sorted(counts.values()) == [1, 1, 2] and counts[f"新线索 {leads[0] - leads[0] + 1}"] == 2


# ------------------------------------------------------------------------------------------ watches

PARENT_TS = "1700000000.000100"  # the shared card the Watch button was clicked on
WATCH_ENV = {"CLUE_WATCH_CHECK_SECONDS": "1", "CLUE_CACHE_TTL_SECONDS": "0", "CLUE_REVALIDATE_SECONDS": "0",
             "CLUE_FOLLOW_UP_TTL_SECONDS": "0"}


async def prepared_watch(path: Path) -> str:
    """A migrated database whose channel watches clue 8, last read at a stage it has since left: the first
    check of a process finds one change."""
    async def watched(db: Database) -> None:
        store = WatchStore(db, time.time)
        await store.watch(TEAM, CHANNEL, DOC_CLUE_ID, USER, PARENT_TS)
        earlier = Snapshot(name="打马赛克就", stage="旧阶段")
        await store.record(DOC_CLUE_ID, earlier.to_json(), earlier.fingerprint)

    return await prepared(path, watched)


def watch_status(url: str) -> tuple[int, int]:
    """(pending, posted) watch changes."""
    summary = read_back(url, lambda db: WatchStore(db, time.time).status())
    return summary.pending, summary.posted


def watch_replies(state: FakeSlackState) -> list[dict[str, object]]:
    return [m for m in state.channel_messages(CHANNEL)
            if isinstance(m.get("metadata"), dict) and m["metadata"].get("event_type") == "clue_watch_change"]


def test_killed_mid_reply_the_change_is_replied_once(sandbox: SandboxServer, fake_slack: tuple[str, FakeSlackState],
                                                     tmp_path: Path) -> None:
    fake_url, state = fake_slack
    url = asyncio.run(prepared_watch(tmp_path / "alerts.db"))
    state.latency["chat.postMessage"] = 30.0  # Slack accepts the reply, its answer never comes back in time
    with app_process(sandbox, fake_url, url, tmp_path / "app.log", **WATCH_ENV) as first:
        wait_for("Slack to accept the reply", lambda: len(watch_replies(state)) == 1)
        kill_9(first)  # after Slack accepted, before the ts came back and was written
    assert watch_status(url) == (1, 0)
    state.latency.clear()
    with app_process(sandbox, fake_url, url, tmp_path / "app.log", **WATCH_ENV):
        wait_for("the change marked posted", lambda: watch_status(url) == (0, 1))
    [reply] = watch_replies(state)  # found in its thread (conversations.replies), not posted again
    assert reply["thread_ts"] == PARENT_TS and "旧阶段 → 初步接触" in str(reply["blocks"]), \
        (tmp_path / "app.log").read_text()[-3000:]


def test_killed_mid_check_the_change_is_found_again_and_replied_once(
        sandbox: SandboxServer, fake_slack: tuple[str, FakeSlackState], tmp_path: Path) -> None:
    fake_url, state = fake_slack
    url = asyncio.run(prepared_watch(tmp_path / "alerts.db"))
    sandbox.state.set_fault(hang=True, endpoint=CLUE_GET)
    with app_process(sandbox, fake_url, url, tmp_path / "app.log", **WATCH_ENV) as first:
        wait_for("a check to be in flight", lambda: sandbox.state.stats().held >= 1)
        kill_9(first)
    assert watch_status(url) == (0, 0) and watch_replies(state) == []
    sandbox.state.clear_faults()
    with app_process(sandbox, fake_url, url, tmp_path / "app.log", **WATCH_ENV):
        wait_for("the change posted", lambda: watch_status(url) == (0, 1))
    assert len(watch_replies(state)) == 1
