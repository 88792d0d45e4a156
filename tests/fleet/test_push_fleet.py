"""The CRM's push across a fleet: two instances of the real app share one Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis

from bot.dev.playground.fake_slack import FakeSlackState
from bot.dev.sandbox import SandboxServer
from tests.redis_server import RedisServer
from tests.slack.harness import SlackDriver, running_app, slack_settings
from tests.web.test_push import NOISE, edit, pushes, vendor_headers


@pytest.fixture
async def fleet(admin: redis.Redis, redis_server: RedisServer, sandbox: SandboxServer,
                fake_slack: tuple[str, FakeSlackState]) -> AsyncIterator[tuple[SlackDriver, SlackDriver]]:
    """Two instances receiving pushes, on one emptied Redis."""
    url, state = fake_slack
    settings = slack_settings(sandbox.url, url, REDIS_URL=redis_server.url, CRM_PUSH_ENABLED="true")
    async with running_app(settings, state, url) as first, running_app(settings, state, url) as second:
        yield first, second


async def test_a_push_replayed_to_another_instance_is_processed_once(
        fleet: tuple[SlackDriver, SlackDriver], admin: redis.Redis) -> None:
    first, second = fleet
    body, headers = edit(8), vendor_headers()
    assert (await first.http.post("/crm/push", content=body, headers=headers)).status_code == 200
    await first.drain()
    again = await second.http.post("/crm/push", content=body, headers=headers)
    await second.drain()
    assert (again.status_code, again.text) == (200, str(NOISE))  # answered all the same
    assert pushes(first) == {"applied": 1} and pushes(second) == {"replayed": 1}
    keys = sorted(k.decode() for k in admin.keys("cluebot:v2:push:*"))
    assert [k.split(":")[3] for k in keys] == ["msg", "sig"]
    assert all(0 < admin.ttl(k) <= 600 for k in keys)  # twice the 300 s window


async def test_a_push_to_one_instance_drops_the_clue_the_fleet_shares(
        fleet: tuple[SlackDriver, SlackDriver], admin: redis.Redis, sandbox: SandboxServer) -> None:
    first, second = fleet
    await first.command("8")
    await first.drain()
    assert admin.exists("cluebot:v2:clue:8")
    await second.http.post("/crm/push", content=edit(8), headers=vendor_headers())
    await second.drain()
    assert not admin.exists("cluebot:v2:clue:8")
    await second.command("8")  # without the push: a Redis hit, no CRM call
    await second.drain()
    assert sandbox.state.stats().clue_gets.get(8) == 2
