"""A replayed click is handled once across the fleet: two instances of the real app share one Redis."""

from __future__ import annotations

import redis

from bot.dev.playground.fake_slack import FakeSlackState
from bot.dev.sandbox import SandboxServer
from tests.redis_server import RedisServer
from tests.slack.harness import running_app, slack_settings


async def test_a_click_replayed_to_another_instance_is_not_handled_again(
        admin: redis.Redis, redis_server: RedisServer, sandbox: SandboxServer,
        fake_slack: tuple[str, FakeSlackState]) -> None:
    url, state = fake_slack
    settings = slack_settings(sandbox.url, url, REDIS_URL=redis_server.url)
    async with running_app(settings, state, url) as first, running_app(settings, state, url) as second:
        request, key = first.click("clue_share", "8")
        assert (await first.send(request)).status_code == 200
        await first.drain()
        again = await second.send(request)  # the same signed bytes, at the other instance
        await second.drain()
        assert (again.status_code, again.text) == (200, "")
        assert [r["response_type"] for r in state.responses(key) if "response_type" in r] == ["in_channel"]
        assert 'outcome="replayed"} 1.0' in (await second.http.get("/metrics")).text
