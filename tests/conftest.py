"""Fixtures for every test: a clean environment, the sandbox CRM and a fake Slack Web API on loopback,
and the real app in front of both (``slack``)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from bot.crm.client import CrmClient
from bot.dev.loopback import LoopbackServer
from bot.dev.playground.fake_slack import FakeSlackState, create_fake_slack
from bot.dev.sandbox import SandboxServer
from tests.slack.harness import SlackDriver, running_app, slack_settings
from tests.support import make_client

_ENV_PREFIXES = ("SLACK_", "CRM_", "CLUE_", "REDIS_", "DATABASE_")


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's real Slack, CRM, cache or Redis settings."""
    for name in list(os.environ):
        if name.startswith(_ENV_PREFIXES):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    """One sandbox CRM for the whole session, on a free loopback port."""
    with SandboxServer() as server:
        yield server


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> SandboxServer:
    """The session sandbox with seed data restored, faults cleared and stats zeroed."""
    sandbox_server.state.reset()
    return sandbox_server


@pytest.fixture
async def crm_factory() -> AsyncIterator[Callable[..., CrmClient]]:
    made: list[CrmClient] = []

    def factory(base_url: str, **kwargs: Any) -> CrmClient:
        client = make_client(base_url, **kwargs)
        made.append(client)
        return client

    yield factory
    for client in made:
        await client.aclose()


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
