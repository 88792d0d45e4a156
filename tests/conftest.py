"""Shared fixtures: a clean environment for every test, and the sandbox CRM over loopback HTTP."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from bot.crm.client import CrmClient
from bot.dev.sandbox import SandboxServer
from tests.support import make_client

_ENV_PREFIXES = ("SLACK_", "CRM_", "CLUE_", "REDIS_")


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
