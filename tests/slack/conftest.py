"""Fixtures for scenario tests: a fake Slack Web API on loopback and the real app in front of it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from bot.dev.loopback import LoopbackServer
from bot.dev.playground.fake_slack import FakeSlackState, create_fake_slack
from bot.dev.sandbox import SandboxServer
from tests.slack.harness import SlackDriver, running_app, slack_settings


@pytest.fixture(scope="session")
def fake_slack_server() -> Iterator[tuple[LoopbackServer, FakeSlackState]]:
    state = FakeSlackState()
    with LoopbackServer(create_fake_slack(state)) as server:
        yield server, state


@pytest.fixture
def fake_slack(fake_slack_server: tuple[LoopbackServer, FakeSlackState]) -> tuple[str, FakeSlackState]:
    server, state = fake_slack_server
    state.reset()
    return server.url, state


@pytest.fixture
async def slack(sandbox: SandboxServer, fake_slack: tuple[str, FakeSlackState]) -> AsyncIterator[SlackDriver]:
    url, state = fake_slack
    async with running_app(slack_settings(sandbox.url, url), state, url) as driver:
        yield driver
