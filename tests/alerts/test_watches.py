"""Watched clues end to end: signed /clue commands and clicks through the real ASGI app, the sandbox CRM's
clues changing, rounds of the real service under its lease, and what the fake Slack received.

The app's wall clock runs ahead on demand (``Later.skip``): a watch is due again once
``CLUE_WATCH_CHECK_SECONDS`` have passed on it, without the test waiting. The card caches keep nothing
fresh (TTL 0), so every check reads the sandbox.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.alerts.service import AlertService
from bot.compose import Clocks
from bot.crm.client import CLUE_GET, FOLLOW_UPS, SEARCH
from bot.dev.playground.fake_slack import FakeSlackState, public_channel
from bot.dev.sandbox import SandboxServer
from bot.dev.sandbox.seed import DOC_CLUE_ID
from bot.slack import cards
from bot.store.watches import WatchStore
from tests.alerts.test_scenarios import alert_env, alerts_in, just_now, say
from tests.blockkit import assert_valid_message
from tests.slack.harness import CHANNEL, SlackDriver, running_app, slack_settings
from tests.store.conftest import fresh_database

CHECK_SECONDS = 600


class Later:
    """The wall clock, moved ahead by ``skip``."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def __call__(self) -> float:
        return time.time() + self.ahead

    def skip(self) -> None:
        self.ahead += CHECK_SECONDS + 1


def watch_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return alert_env(tmp_path, CLUE_WATCH_CHECK_SECONDS=str(CHECK_SECONDS), CLUE_CACHE_TTL_SECONDS="0",
                     CLUE_REVALIDATE_SECONDS="0", CLUE_FOLLOW_UP_TTL_SECONDS="0", CLUE_NEGATIVE_TTL_SECONDS="0",
                     **extra)


@pytest.fixture
def later() -> Later:
    return Later()


@pytest.fixture(params=["sqlite", "postgresql"])
async def app(request: pytest.FixtureRequest, sandbox: SandboxServer, fake_slack: tuple[str, FakeSlackState],
              tmp_path: Path, later: Later) -> AsyncIterator[SlackDriver]:
    """The app on an SQLite file, and on the store suite's PostgreSQL (emptied first) where it has one."""
    url, state = fake_slack
    env = watch_env(tmp_path)
    if request.param == "postgresql":
        emptied = await fresh_database("postgresql", tmp_path)
        env["DATABASE_URL"] = emptied.engine.url.render_as_string(hide_password=False)
        await emptied.aclose()
    async with running_app(slack_settings(sandbox.url, url, **env), state, url, clocks=Clocks(wall=later)) as driver:
        yield await settled(driver)


async def settled(app: SlackDriver) -> SlackDriver:
    """The app once its loop's first round is over (the next is an hour away): every round is the test's."""
    await service(app).looped.wait()
    return app


def service(app: SlackDriver) -> AlertService:
    alerts = app.instance.alerts
    assert alerts is not None and alerts.watcher is not None
    return alerts


def watches(app: SlackDriver) -> WatchStore:
    watcher = service(app).watcher
    assert watcher is not None
    return watcher.store


async def checked_round(app: SlackDriver, later: Later) -> Any:
    """A round in which every watch is due again; what it did with watches."""
    later.skip()
    round_ = await service(app).run_round()
    assert round_.leader and round_.watches is not None
    return round_.watches


def replies(app: SlackDriver) -> list[dict[str, Any]]:
    """The watch replies Slack accepted in the channel (alerts and cards aside)."""
    return [m for m in alerts_in(app.fake) if (m.get("metadata") or {}).get("event_type") == "clue_watch_change"]


async def click_watch(app: SlackDriver, message_ts: str, *, overflow: bool = False) -> str:
    """Watch clicked on the channel message ``message_ts``; the ephemeral answer's text."""
    container = {"type": "message", "message_ts": message_ts, "channel_id": CHANNEL, "is_ephemeral": False}
    action = cards.ACTION_MORE if overflow else cards.ACTION_WATCH
    value = f"{cards.ACTION_WATCH}={DOC_CLUE_ID}" if overflow else str(DOC_CLUE_ID)
    response, key = await app.action(action, value, container=container, overflow=overflow)
    assert response.status_code == 200
    await app.drain()
    [answer] = app.fake.responses(key)
    assert answer["response_type"] == "ephemeral" and answer["replace_original"] is False
    return str(answer["text"])


async def test_watch_by_command_first_read_is_silent_and_a_change_replies_once_then_threads(
        app: SlackDriver, sandbox: SandboxServer, later: Later) -> None:
    assert f"Watching clue {DOC_CLUE_ID} here" in await say(app, f"watch {DOC_CLUE_ID}")
    first = await checked_round(app, later)
    assert (first.checked, first.changes, first.replies) == (1, 0, 0)  # the first read only stores
    again = await checked_round(app, later)
    assert (again.checked, again.changes) == (1, 0) and alerts_in(app.fake) == []  # no change: nothing
    sandbox.state.advance_stage(DOC_CLUE_ID)
    changed = await checked_round(app, later)
    assert (changed.changes, changed.replies) == (1, 1)
    [reply] = replies(app)
    assert_valid_message({"text": reply["text"], "blocks": reply["blocks"]})
    assert "thread_ts" not in reply  # no alert or card to reply under: a new message, now the watch's thread
    assert "*Stage:* 初步接触 → 意向明确" in str(reply["blocks"])
    [watch] = await watches(app).watches(CHANNEL)
    assert watch.thread_ts == reply["ts"]
    sandbox.state.advance_stage(DOC_CLUE_ID)
    await checked_round(app, later)
    second = replies(app)[1]
    assert second["thread_ts"] == reply["ts"] and "意向明确 → 报价中" in str(second["blocks"])
    await checked_round(app, later)
    assert len(replies(app)) == 2  # posted once each


async def test_watch_on_an_alert_replies_in_the_alerts_thread(app: SlackDriver, sandbox: SandboxServer,
                                                              later: Later) -> None:
    await say(app, "subscribe")
    await service(app).run_round()
    [lead] = sandbox.state.add_leads(1, created=just_now())
    await service(app).run_round()
    [alert] = alerts_in(app.fake)
    watch_button = alert["blocks"][-1]["elements"][-1]
    assert (watch_button["action_id"], watch_button["value"]) == (cards.ACTION_WATCH, str(lead))
    container = {"type": "message", "message_ts": alert["ts"], "channel_id": CHANNEL, "is_ephemeral": False}
    _, key = await app.action(cards.ACTION_WATCH, str(lead), container=container)
    await app.drain()
    assert "changes reply in this thread" in app.fake.responses(key)[0]["text"]
    await checked_round(app, later)
    sandbox.state.update_clue(lead, tagIds=[])  # its tags are removed
    sandbox.state.advance_stage(lead)
    await checked_round(app, later)
    [reply] = replies(app)
    assert reply["thread_ts"] == alert["ts"]
    assert "*Stage:*" in str(reply["blocks"]) and "*Tags:* −" in str(reply["blocks"])


async def test_a_shared_card_offers_watch_and_its_click_threads_under_the_card(app: SlackDriver,
                                                                               sandbox: SandboxServer,
                                                                               later: Later) -> None:
    _, key = await app.action(cards.ACTION_SHARE, str(DOC_CLUE_ID))
    await app.drain()
    shared = next(r for r in app.fake.responses(key) if r.get("response_type") == "in_channel")
    [overflow] = [e for b in shared["blocks"] if b["type"] == "actions" for e in b["elements"]
                  if e["type"] == "overflow"]
    assert f"{cards.ACTION_WATCH}={DOC_CLUE_ID}" in [o["value"] for o in overflow["options"]]
    assert "changes reply in this thread" in await click_watch(app, "1700000123.000100", overflow=True)
    [watch] = await watches(app).watches(CHANNEL)
    assert watch.thread_ts == "1700000123.000100"
    await checked_round(app, later)
    sandbox.state.advance_stage(DOC_CLUE_ID)
    await checked_round(app, later)
    assert [r["thread_ts"] for r in replies(app)] == ["1700000123.000100"]


async def test_private_cards_and_unfurls_offer_no_watch(app: SlackDriver) -> None:
    response, _ = await app.command(str(DOC_CLUE_ID))
    assert cards.ACTION_WATCH not in str(response.json()["blocks"])


async def test_unwatch_stops_the_replies(app: SlackDriver, sandbox: SandboxServer, later: Later) -> None:
    await say(app, f"watch {DOC_CLUE_ID}")
    await checked_round(app, later)
    listed = await say(app, "watches")
    assert f"Clue {DOC_CLUE_ID}" in listed and "<@U0ALICE001>" in listed
    assert f"Stopped watching clue {DOC_CLUE_ID}" in await say(app, f"unwatch {DOC_CLUE_ID}")
    assert "watches no clues" in await say(app, "watches")
    assert "does not watch clue 9" in await say(app, "unwatch 9")
    sandbox.state.advance_stage(DOC_CLUE_ID)
    done = await checked_round(app, later)
    assert done.checked == 0 and alerts_in(app.fake) == []


async def test_usage_is_explained(app: SlackDriver) -> None:
    for text in ("watch", "watch eight", "unwatch", "watch 8 9"):
        assert "Say which clue" in await say(app, text)
    assert "Watching clue 8" in await say(app, "watch https://crm.example.com/clues/8")
    assert "Stopped watching clue 8" in await say(app, "取消关注 8")


async def test_removed_from_the_channel_stops_the_watch_and_says_so(app: SlackDriver, sandbox: SandboxServer,
                                                                   later: Later,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    await say(app, f"watch {DOC_CLUE_ID}")
    await checked_round(app, later)
    app.fake.channel_errors[CHANNEL] = "not_in_channel"
    sandbox.state.advance_stage(DOC_CLUE_ID)
    stopped = await checked_round(app, later)
    assert stopped.disabled == [CHANNEL] and stopped.replies == 0
    assert any(r.getMessage() == "watches.disabled" for r in caplog.records)
    assert "stopped: I was removed from the channel" in await say(app, "watches")
    del app.fake.channel_errors[CHANNEL]
    sandbox.state.advance_stage(DOC_CLUE_ID)
    assert (await checked_round(app, later)).checked == 0  # stopped: not read, nothing posted
    assert alerts_in(app.fake) == []
    await say(app, f"watch {DOC_CLUE_ID}")  # watching again resumes it
    assert [w.active for w in await watches(app).watches(CHANNEL)] == [True]


async def test_when_the_bot_is_not_a_member_watch_says_how_to_add_it(app: SlackDriver) -> None:
    app.fake.conversations[CHANNEL] = public_channel("sales", is_member=False)
    assert "/invite @clue bot" in await say(app, f"watch {DOC_CLUE_ID}")
    assert await watches(app).watches(CHANNEL) == []


async def test_refused_in_a_slack_connect_channel_by_command_and_by_button(app: SlackDriver) -> None:
    app.fake.conversations[CHANNEL] = {"is_ext_shared": True}
    answer = await say(app, f"watch {DOC_CLUE_ID}")
    assert "can't watch clues in this channel" in answer and "shared with another organisation" in answer
    assert "can't watch clues in this channel" in await click_watch(app, "1700000123.000100")
    assert await watches(app).watches(CHANNEL) == []


async def test_the_crm_down_during_a_check_changes_nothing_and_the_change_comes_after(
        app: SlackDriver, sandbox: SandboxServer, later: Later) -> None:
    await say(app, f"watch {DOC_CLUE_ID}")
    await checked_round(app, later)
    [before] = await watches(app).watches(CHANNEL)
    sandbox.state.advance_stage(DOC_CLUE_ID)
    sandbox.state.set_fault(status=503, endpoint=CLUE_GET)
    down = await checked_round(app, later)
    assert (down.checked, down.changes, down.replies) == (0, 0, 0)
    [during] = await watches(app).watches(CHANNEL)
    assert (during.fingerprint, during.checked_at) == (before.fingerprint, before.checked_at)
    assert alerts_in(app.fake) == []
    sandbox.state.clear_faults()
    await checked_round(app, later)
    assert len(replies(app)) == 1


async def test_a_check_reads_through_the_card_path_within_its_budget_oldest_first(
        sandbox: SandboxServer, fake_slack: tuple[str, FakeSlackState], tmp_path: Path, later: Later) -> None:
    url, state = fake_slack
    settings = slack_settings(sandbox.url, url, **watch_env(tmp_path, CLUE_WATCH_READS_PER_ROUND="6"))
    async with running_app(settings, state, url, clocks=Clocks(wall=later)) as app:
        await settled(app)
        for clue_id in range(1, 6):
            await say(app, f"watch {clue_id}")
        sandbox.state.reset_stats()
        first = await checked_round(app, later)
        calls = sandbox.state.stats().calls
        assert first.checked == 2  # six reads: two clues, each its clue/get, owner and follow-ups
        assert (calls.get(CLUE_GET), calls.get(FOLLOW_UPS), calls.get(SEARCH)) == (2, 2, 2)
        checked = {w.clue_id for w in await watches(app).watches(CHANNEL) if w.checked_at is not None}
        assert checked == {1, 2}
        await service(app).run_round()  # not due again yet: the never-checked ones come next
        checked = {w.clue_id for w in await watches(app).watches(CHANNEL) if w.checked_at is not None}
        assert checked == {1, 2, 3, 4}


async def test_recheck_reads_past_the_cache_and_replies_at_once(sandbox: SandboxServer,
                                                                fake_slack: tuple[str, FakeSlackState],
                                                                tmp_path: Path) -> None:
    """The CRM push's hint: with the cache holding the clue fresh, a poll would not see the change yet."""
    url, state = fake_slack
    env = alert_env(tmp_path, CLUE_CACHE_TTL_SECONDS="3600", CLUE_FOLLOW_UP_TTL_SECONDS="3600")
    async with running_app(slack_settings(sandbox.url, url, **env), state, url) as app:
        await settled(app)
        await say(app, f"watch {DOC_CLUE_ID}")
        await service(app).run_round()  # the first read, now cached for an hour
        sandbox.state.advance_stage(DOC_CLUE_ID)
        await service(app).recheck(DOC_CLUE_ID)
        [reply] = replies(app)
        assert "初步接触 → 意向明确" in str(reply["blocks"])
        await service(app).recheck(DOC_CLUE_ID)  # nothing new: nothing posted
        await service(app).recheck(9)  # nobody watches it: not even read
        assert len(replies(app)) == 1


async def test_a_watched_clue_that_is_gone_is_logged_and_waits_its_turn(app: SlackDriver, later: Later,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    await say(app, "watch 999999")
    gone = await checked_round(app, later)
    assert (gone.checked, gone.failed, gone.replies) == (0, 1, 0)
    [watch] = await watches(app).watches(CHANNEL)
    assert watch.fingerprint is None and watch.checked_at is not None  # not first in line every round
    assert [r.getMessage() for r in caplog.records].count("watches.check.failed") == 1
    assert await watches(app).due(later() - CHECK_SECONDS, 10) == []
