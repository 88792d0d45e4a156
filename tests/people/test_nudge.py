"""The morning nudge end to end: rounds of the real nudge service on the app's own database, the sandbox CRM's
clues by owner, direct messages on the fake Slack; a wall clock the test sets (the person's local morning)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.alerts.nudges import NudgeService, _scheduled
from bot.compose import Clocks
from bot.dev.playground.fake_slack import FakeSlackState
from bot.dev.sandbox import SandboxServer
from bot.store.people import CONFIRMED, NUDGE_DROPPED, NUDGE_EMPTY, NUDGE_POSTED, PersonLink
from tests.blockkit import assert_valid_message
from tests.people.conftest import EMPLOYEES, Monotonic, people_env
from tests.people.test_mine_and_home import DUE, owned_by_zhang_san
from tests.slack.harness import TEAM, USER, SlackDriver, running_app, slack_settings

LOS_ANGELES = "America/Los_Angeles"
# 2026-03-10 09:05 in Los Angeles (PDT, UTC-7): five minutes after a 09:00 nudge
MORNING = datetime(2026, 3, 10, 16, 5, tzinfo=UTC)


class Wall:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at.timestamp()


@pytest.fixture
def wall() -> Wall:
    return Wall(MORNING)


@pytest.fixture
async def app(sandbox: SandboxServer, fake_slack: tuple[str, FakeSlackState], tmp_path: Path,
              wall: Wall, monotonic: Monotonic) -> AsyncIterator[SlackDriver]:
    url, state = fake_slack
    sandbox.state.set_employees(EMPLOYEES)
    async with running_app(slack_settings(sandbox.url, url, **people_env(tmp_path)), state, url,
                           clocks=Clocks(wall=wall, monotonic=monotonic)) as driver:
        yield driver


def nudges(app: SlackDriver) -> NudgeService:
    service = app.instance.nudges
    assert service is not None
    return service


async def nudged_at(app: SlackDriver, user: str = USER, sales_id: str = "1001", at: str = "09:00",
                    tz: str = LOS_ANGELES) -> None:
    store = app.instance.people.store if app.instance.people else None
    assert store is not None
    await store.link(user, TEAM, sales_id, "张三", how=CONFIRMED, linked_by=user)
    assert await store.set_nudge(user, at, tz)


async def states(app: SlackDriver, user: str = USER) -> dict[str, str]:
    assert app.instance.people is not None
    return await app.instance.people.store.nudge_states(user)


async def test_the_nudge_goes_out_once_at_the_persons_local_time(app: SlackDriver, wall: Wall) -> None:
    await nudged_at(app)
    wall.at = MORNING - timedelta(minutes=10)  # 08:55 in Los Angeles: not yet
    assert (await nudges(app).run_round()).posted == []
    assert await states(app) == {}
    wall.at = MORNING
    assert (await nudges(app).run_round()).posted == [USER]
    [message] = app.fake.channel_messages(USER)  # a direct message: posted to the person's id
    assert message["text"].startswith("Good morning: ") and " overdue," in message["text"]
    assert_valid_message({"text": message["text"], "blocks": message["blocks"]})
    wall.at = MORNING + timedelta(minutes=30)
    assert (await nudges(app).run_round()).posted == []  # once a day
    assert len(app.fake.channel_messages(USER)) == 1
    assert await states(app) == {"2026-03-10": NUDGE_POSTED}


async def test_a_round_asks_slack_for_no_profile_its_day_is_the_nudges_zone(app: SlackDriver) -> None:
    # A round for everyone must not call users.info per person (1,000 in a minute is over Slack's Tier 4):
    # "today" is the day in the zone the nudge is scheduled in, stored with it.
    await nudged_at(app)
    app.instance.locales.get(USER)  # the person's language, known since their last request
    await app.drain()
    asked = len(app.fake.api_calls("users.info"))
    assert (await nudges(app).run_round()).posted == [USER]
    assert len(app.fake.api_calls("users.info")) == asked


async def test_two_instances_send_one_nudge(app: SlackDriver, sandbox: SandboxServer, tmp_path: Path,
                                            wall: Wall) -> None:
    await nudged_at(app)
    url = app.fake_url
    second_settings = slack_settings(sandbox.url, url, **people_env(tmp_path))  # the same database file
    async with running_app(second_settings, app.fake, url, clocks=Clocks(wall=wall)) as second:
        rounds = await asyncio.gather(nudges(app).run_round(), nudges(second).run_round())
    assert sorted(user for r in rounds for user in r.posted) == [USER]
    assert len(app.fake.channel_messages(USER)) == 1


async def test_a_nudge_found_hours_late_is_dropped_not_sent(app: SlackDriver, wall: Wall) -> None:
    await nudged_at(app)
    wall.at = MORNING + timedelta(hours=3)  # 12:05: the app was down all morning
    assert (await nudges(app).run_round()).dropped == [USER]
    assert app.fake.channel_messages(USER) == []
    assert await states(app) == {"2026-03-10": NUDGE_DROPPED}


async def test_nothing_due_and_nothing_new_sends_nothing(app: SlackDriver, sandbox: SandboxServer,
                                                         wall: Wall) -> None:
    for clue_id in owned_by_zhang_san():
        sandbox.state.update_clue(clue_id, **{DUE: None})
    await nudged_at(app)  # linked now (2026): every seed clue is older, so none is new
    assert (await nudges(app).run_round()).empty == [USER]
    assert app.fake.channel_messages(USER) == []
    assert await states(app) == {"2026-03-10": NUDGE_EMPTY}


async def test_a_failing_crm_gives_the_nudge_back_for_a_later_round(app: SlackDriver, sandbox: SandboxServer,
                                                                    wall: Wall, monotonic: Monotonic) -> None:
    await nudged_at(app)
    sandbox.state.set_fault(status=503)
    assert (await nudges(app).run_round()).failed == [USER]
    assert await states(app) == {}
    sandbox.state.clear_faults()
    wall.at = MORNING + timedelta(minutes=10)
    monotonic.offset += 600  # past the failure memory of the people cache
    assert (await nudges(app).run_round()).posted == [USER]


def test_the_nudge_time_follows_dst_and_the_persons_zone() -> None:
    link = PersonLink(USER, TEAM, "1001", "张三", CONFIRMED, USER, 0.0, nudge_at="09:00", tz=LOS_ANGELES)
    shanghai = ZoneInfo("Asia/Shanghai")
    before_dst = _scheduled(link, datetime(2026, 3, 7, 20, 0, tzinfo=UTC), shanghai)
    after_dst = _scheduled(link, datetime(2026, 3, 9, 20, 0, tzinfo=UTC), shanghai)
    assert before_dst == datetime(2026, 3, 7, 17, 0, tzinfo=UTC)  # 09:00 PST
    assert after_dst == datetime(2026, 3, 9, 16, 0, tzinfo=UTC)  # 09:00 PDT
    # A time zone change moves it: the same moment is already the 10th in Shanghai, whose 09:00 is 01:00 UTC.
    moved = replace(link, tz="Asia/Shanghai")
    assert _scheduled(moved, datetime(2026, 3, 9, 20, 0, tzinfo=UTC), shanghai) == datetime(2026, 3, 10, 1, 0,
                                                                                            tzinfo=UTC)


async def test_the_nudge_speaks_the_language_chosen_in_home(app: SlackDriver) -> None:
    """The lease holder may never have looked the person up: the choice on their row is what it speaks."""
    await nudged_at(app)
    assert app.instance.people is not None and await app.instance.people.store.set_locale(USER, "zh-TW")
    assert (await nudges(app).run_round()).posted == [USER]
    [message] = app.fake.channel_messages(USER)
    assert message["text"].startswith("早安：逾期 ")


async def test_a_round_for_people_this_instance_never_met_asks_slack_nothing(app: SlackDriver) -> None:
    # The instance holding the lease may never have served these people: their language is what it remembers
    # (else the default), never one users.info each (a round of 1,000 would be over Slack's rate for it).
    await nudged_at(app)
    asked = len(app.fake.api_calls("users.info"))
    assert (await nudges(app).run_round()).posted == [USER]
    await app.drain()
    assert len(app.fake.api_calls("users.info")) == asked
