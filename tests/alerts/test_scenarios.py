"""Alerts end to end: signed /clue commands through the real ASGI app, the sandbox CRM's new leads, rounds of
the real poller and poster, and what the fake Slack received."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.alerts.posting import PAUSE_SECONDS
from bot.alerts.service import AlertService
from bot.compose import Clocks
from bot.dev.playground.fake_slack import FakeSlackState, public_channel
from bot.dev.sandbox import SandboxServer
from bot.errors import CrmError, StoreError
from tests.blockkit import assert_valid_message
from tests.slack.harness import CHANNEL, USER, SlackDriver, running_app, slack_settings

SHANGHAI = ZoneInfo("Asia/Shanghai")
OTHER_CHANNEL = "C0OTHER001"


def alert_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'alerts.db'}", "CLUE_ALERT_POLL_SECONDS": "3600",
            "CLUE_ALERT_POST_INTERVAL_SECONDS": "0", "CLUE_ALERT_DIGEST_OVER": "5", **extra}


@pytest.fixture
async def app(sandbox: SandboxServer, fake_slack: tuple[str, FakeSlackState],
              tmp_path: Path) -> AsyncIterator[SlackDriver]:
    url, state = fake_slack
    state.conversations[OTHER_CHANNEL] = public_channel("other")  # the bot is in both channels
    async with running_app(slack_settings(sandbox.url, url, **alert_env(tmp_path)), state, url) as driver:
        yield driver


def service(app: SlackDriver) -> AlertService:
    alerts = app.instance.alerts
    assert alerts is not None
    return alerts


async def say(app: SlackDriver, text: str, **kwargs: Any) -> str:
    response, _ = await app.command(text, **kwargs)
    assert response.status_code == 200
    return str(response.json()["text"])


def just_now() -> str:
    """A createTime two seconds ago: in the next poll's window whatever second the poll falls in."""
    return datetime.fromtimestamp(time.time() - 2, SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def alerts_in(state: FakeSlackState, channel: str = CHANNEL) -> list[dict[str, Any]]:
    return state.channel_messages(channel)


async def test_subscribe_then_a_new_lead_is_posted_once_as_a_card(app: SlackDriver, sandbox: SandboxServer) -> None:
    assert "Subscribed: every new clue" in await say(app, "subscribe")
    await service(app).run_round()  # the mark starts now: the seed clues (history) are not alerts
    assert alerts_in(app.fake) == []
    [lead] = sandbox.state.add_leads(1, created=just_now())
    round_ = await service(app).run_round()
    assert round_.poll is not None and round_.poll.new == 1
    [message] = alerts_in(app.fake)
    assert "新线索 1" in message["text"]
    blocks = message["blocks"] if isinstance(message["blocks"], list) else []
    buttons = [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert buttons == ["clue_open", "clue_follow_ups", "clue_details", "clue_watch"]
    assert message["metadata"]["event_type"] == "clue_alert"
    await service(app).run_round()  # the lookback reads the lead again: no second alert
    assert len(alerts_in(app.fake)) == 1
    assert [clue_id for clue_id, _ in await service(app).store.delivered()] == [lead]


async def test_a_burst_becomes_one_digest(app: SlackDriver, sandbox: SandboxServer) -> None:
    await say(app, "subscribe")
    await service(app).run_round()
    sandbox.state.add_leads(50, created=just_now())
    await service(app).run_round()
    [digest] = alerts_in(app.fake)
    assert digest["text"] == "50 new clues"
    assert "+10 more" in str(digest["blocks"])
    assert len(await service(app).store.delivered()) == 50


async def test_filters_pick_clues_and_one_channel_gets_a_clue_once(app: SlackDriver,
                                                                   sandbox: SandboxServer) -> None:
    await say(app, "subscribe")
    assert "tag:VIP" in await say(app, "subscribe tag:VIP")
    await say(app, "subscribe stage:报价中", channel=OTHER_CHANNEL)
    await service(app).run_round()
    sandbox.state.add_leads(4, created=just_now())  # the rotation: 初步接触, 意向明确+VIP, 初步接触, 报价中
    await service(app).run_round()
    assert len(alerts_in(app.fake)) == 4  # the VIP lead matched both subscriptions here: posted once
    assert ["新线索 4" in m["text"] for m in alerts_in(app.fake, OTHER_CHANNEL)] == [True]
    status = await service(app).store.status()
    assert (status.posted, status.pending) == (6, 0)


async def test_listing_and_unsubscribing(app: SlackDriver) -> None:
    assert "no clue alerts" in await say(app, "subscriptions")
    await say(app, "subscribe")
    await say(app, "subscribe source:展会")
    listed = await say(app, "subscriptions")
    response, _ = await app.command("subscriptions")
    assert_valid_message({k: v for k, v in response.json().items() if k != "response_type"})
    assert "1. every new clue" in listed and "2. new clues matching source:展会" in listed
    assert "Stopped alert 1" in await say(app, "unsubscribe 1")
    assert "1. new clues matching source:展会" in await say(app, "subscriptions")
    assert "no alert 7" in await say(app, "unsubscribe 7")
    assert "Say which alert" in await say(app, "unsubscribe all")


async def test_a_bad_filter_is_named_and_subscribes_nothing(app: SlackDriver) -> None:
    assert "`colour:red` is not a filter" in await say(app, "subscribe colour:red")
    assert await service(app).store.subscriptions(CHANNEL) == []


async def test_refused_in_a_slack_connect_channel(app: SlackDriver) -> None:
    app.fake.conversations[CHANNEL] = {"is_ext_shared": True}
    answer = await say(app, "subscribe")
    assert "can't subscribe" in answer and "shared with another organisation" in answer
    assert await service(app).store.subscriptions(CHANNEL) == []


async def test_when_the_bot_is_not_a_member_it_says_how_to_add_it(app: SlackDriver) -> None:
    app.fake.conversations[CHANNEL] = public_channel("sales", is_member=False)  # Slack shows public channels
    assert "/invite @clue bot" in await say(app, "subscribe")
    assert await service(app).store.subscriptions(CHANNEL) == []


async def test_removed_from_the_channel_disables_the_subscription_and_says_so(app: SlackDriver,
                                                                              sandbox: SandboxServer) -> None:
    await say(app, "subscribe")
    await service(app).run_round()
    app.fake.channel_errors[CHANNEL] = "not_in_channel"
    sandbox.state.add_leads(1, created=just_now())
    round_ = await service(app).run_round()
    assert round_.delivery is not None and round_.delivery.disabled == [CHANNEL]
    told = [c for c in app.fake.api_calls("chat.postMessage") if c.get("channel") == USER]
    assert len(told) == 1 and "I was removed from the channel" in told[0]["text"]
    assert "stopped: I was removed from the channel" in await say(app, "subscriptions")
    del app.fake.channel_errors[CHANNEL]
    sandbox.state.add_leads(1, created=just_now())
    await service(app).run_round()
    assert alerts_in(app.fake) == []  # disabled: nothing more until someone subscribes again
    await say(app, "subscribe")
    assert [s.active for s in await service(app).store.subscriptions(CHANNEL)] == [True]


async def test_rate_limited_posts_wait_and_go_out_once(app: SlackDriver, sandbox: SandboxServer) -> None:
    await say(app, "subscribe")
    await service(app).run_round()
    app.fake.rate_limited["chat.postMessage"] = 3  # past slack_sdk's own two retries (each after Retry-After)
    sandbox.state.add_leads(1, created=just_now())
    await service(app).run_round()
    assert alerts_in(app.fake) == []  # still refused: the delivery stays pending, not dropped
    await service(app).run_round()
    assert len(alerts_in(app.fake)) == 1  # the next round posts it, once


async def test_a_revoked_token_pauses_every_post_with_one_warning_and_loses_nothing(
        sandbox: SandboxServer, fake_slack: tuple[str, FakeSlackState], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    url, state = fake_slack
    state.conversations[OTHER_CHANNEL] = public_channel("other")
    ahead = [0.0]  # the monotonic clock, moved past the pause by the test
    clocks = Clocks(monotonic=lambda: time.monotonic() + ahead[0])
    async with running_app(slack_settings(sandbox.url, url, **alert_env(tmp_path)), state, url, clocks=clocks) as app:
        await say(app, "subscribe")
        await say(app, "subscribe", channel=OTHER_CHANNEL)
        await service(app).run_round()
        state.errors["chat.postMessage"] = "token_revoked"
        leads = sandbox.state.add_leads(1, created=just_now())
        await service(app).run_round()
        tried = len(state.api_calls("chat.postMessage"))
        assert 1 <= tried <= 2  # the channels posting at that moment; none after the pause began
        leads += sandbox.state.add_leads(1, created=just_now())
        await service(app).run_round()
        assert len(state.api_calls("chat.postMessage")) == tried  # paused: no more calls, no more log lines
        assert [r.getMessage() for r in caplog.records].count("alerts.posting.paused") == 1
        del state.errors["chat.postMessage"]  # an admin reinstalled the app
        ahead[0] += PAUSE_SECONDS + 1
        await service(app).run_round()
        for channel in (CHANNEL, OTHER_CHANNEL):  # both clues, once each, nothing lost
            assert sorted(clue for clue, _ in await _delivered(app, channel)) == sorted(leads)
            assert len(alerts_in(state, channel)) == 2, channel


async def _delivered(app: SlackDriver, channel: str) -> list[tuple[int, str | None]]:
    store = service(app).store
    [subscription] = await store.subscriptions(channel)
    return await store.delivered(subscription.id)


async def test_only_listed_people_subscribe_when_the_list_is_set(sandbox: SandboxServer,
                                                                 fake_slack: tuple[str, FakeSlackState],
                                                                 tmp_path: Path) -> None:
    url, state = fake_slack
    settings = slack_settings(sandbox.url, url, **alert_env(tmp_path, CLUE_SUBSCRIBE_USER_IDS="U0BOSS0001"))
    async with running_app(settings, state, url) as app:
        assert "people who may subscribe" in await say(app, "subscribe")
        assert "Subscribed" in await say(app, "subscribe", user="U0BOSS0001")
        assert "people who may subscribe" in await say(app, "watch 8")  # watching posts there too
        assert "Watching clue 8" in await say(app, "watch 8", user="U0BOSS0001")
        assert len(await say(app, "subscriptions")) > 0  # listing needs the lookup rules only


async def test_a_crm_outage_pauses_polling_and_catches_up_as_a_digest(app: SlackDriver,
                                                                     sandbox: SandboxServer) -> None:
    await say(app, "subscribe")
    await service(app).run_round()
    sandbox.state.set_fault(status=503, endpoint="/api/v3/clue/list-by-create-time-asc")
    sandbox.state.add_leads(8, created=just_now())
    with pytest.raises(CrmError):
        await service(app).run_round()
    sandbox.state.clear_faults()
    await service(app).run_round()
    [digest] = alerts_in(app.fake)
    assert digest["text"] == "8 new clues"


async def test_filter_text_is_escaped_wherever_it_is_shown(app: SlackDriver) -> None:
    answer = await say(app, "subscribe tag:<!channel>")
    assert "&lt;!channel&gt;" in answer and "<!channel>" not in answer
    listed = await say(app, "subscriptions")
    assert "&lt;!channel&gt;" in listed and "<!channel>" not in listed


async def test_a_database_that_does_not_answer_pauses_alerts_and_lookups_go_on(
        sandbox: SandboxServer, fake_slack: tuple[str, FakeSlackState], tmp_path: Path) -> None:
    url, state = fake_slack
    env = alert_env(tmp_path, DATABASE_URL="postgresql://cluebot:pw@127.0.0.1:9/cluebot")
    async with running_app(slack_settings(sandbox.url, url, **env), state, url) as app:  # starts all the same
        assert "Clue alerts are not available right now" in await say(app, "subscribe")
        response, _ = await app.command("8")
        assert "打马赛克就" in response.json()["text"]
        with pytest.raises(StoreError):
            await service(app).run_round()


async def test_a_thousand_new_clues_into_twenty_channels_arrive_once_each_as_digests(
        app: SlackDriver, sandbox: SandboxServer) -> None:
    channels = [f"C0BULK{n:04d}" for n in range(20)]
    for channel in channels:
        app.fake.conversations[channel] = public_channel(channel.lower())
        await say(app, "subscribe", channel=channel)
    await service(app).run_round()
    sandbox.state.add_leads(1000, created=just_now())
    sandbox.state.reset_stats()
    round_ = await service(app).run_round()
    assert round_.poll is not None and (round_.poll.new, round_.poll.deliveries) == (1000, 20_000)
    assert round_.poll.pages == 10  # 100 clues a page
    assert round_.delivery is not None and (round_.delivery.messages, round_.delivery.delivered) == (20, 20_000)
    for channel in channels:
        [digest] = alerts_in(app.fake, channel)
        assert digest["text"] == "1000 new clues"
    assert sandbox.state.stats().calls.get("/api/v3/clue/list-by-create-time-asc") == 10
    await service(app).run_round()  # the lookback reads them all again: nothing is posted twice
    assert sum(len(alerts_in(app.fake, c)) for c in channels) == 20
