"""UserLocales against the fake Slack Web API on loopback: remembered, refreshed after the TTL, bounded."""

from __future__ import annotations

import pytest

from bot.dev.playground.fake_slack import FakeSlackState
from bot.runtime.metrics import Metrics
from bot.runtime.tasks import TaskRunner
from bot.slack.locales import UserLocales
from bot.slack.webapi import SlackCalls, SlackWebClient, web_client
from tests.support import FakeClock


@pytest.fixture
def client(fake_slack: tuple[str, FakeSlackState]) -> SlackWebClient:
    url, _ = fake_slack
    return web_client(url + "/api/", SlackCalls(Metrics()), "xoxb-test-locales")


def locales_for(client: SlackWebClient, clock: FakeClock, **kwargs: int) -> tuple[UserLocales, TaskRunner]:
    runner = TaskRunner()
    return UserLocales(client, runner, default="en", enabled=True, clock=clock, ttl=100, **kwargs), runner


async def test_a_locale_is_fetched_once_then_expires_after_its_ttl(
        client: SlackWebClient, fake_slack: tuple[str, FakeSlackState]) -> None:
    _, state = fake_slack
    state.locales["U1"] = "zh-CN"
    clock = FakeClock()
    locales, runner = locales_for(client, clock)
    assert locales.get("U1") == "en"  # not known yet: the default, while users.info runs
    await runner.drain()
    assert locales.get("U1") == "zh"
    clock.advance(99)
    assert locales.get("U1") == "zh"
    assert len(state.api_calls("users.info")) == 1
    state.locales["U1"] = "en-US"
    clock.advance(1)
    assert locales.get("U1") == "zh"  # expired: still answered while a fresh lookup runs
    await runner.drain()
    assert locales.get("U1") == "en"
    assert len(state.api_calls("users.info")) == 2


async def test_at_most_max_users_are_remembered_forgetting_the_oldest(
        client: SlackWebClient, fake_slack: tuple[str, FakeSlackState]) -> None:
    _, state = fake_slack
    for user in ("U1", "U2", "U3"):
        state.locales[user] = "zh-CN"
    clock = FakeClock()
    locales, runner = locales_for(client, clock, max_users=2)
    for user in ("U1", "U2", "U3"):
        locales.get(user)
        await runner.drain()
        clock.advance(1)
    assert [locales.get(user) for user in ("U2", "U3")] == ["zh", "zh"]
    assert len(state.api_calls("users.info")) == 3
    assert locales.get("U1") == "en"  # forgotten: asked again
    await runner.drain()
    assert len(state.api_calls("users.info")) == 4
