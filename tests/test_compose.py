"""The composition root and the lifespans: whoever opens a resource closes it, once, in reverse order."""

from __future__ import annotations

import socket
from contextlib import AsyncExitStack
from urllib.parse import urlsplit

import httpx

from bot.compose import build
from bot.config import Settings
from bot.dev.launch import create_playground_app
from bot.dev.sandbox import SandboxServer
from tests.slack.harness import slack_settings


def listening(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "", parts.port or 80), timeout=1):
            return True
    except OSError:
        return False


async def test_the_exit_stack_closes_what_build_opened(sandbox: SandboxServer) -> None:
    async with AsyncExitStack() as stack:
        instance = await build(slack_settings(sandbox.url, "http://127.0.0.1:9"), stack)
        assert not instance.crm.closed
        assert (await instance.cache.get(8)).value.id == 8
    assert instance.crm.closed
    assert len(instance.runner) == 0
    await instance.crm.aclose()  # closing again is harmless
    assert listening(sandbox.url)  # what the test opened, the test closes: build never owned the sandbox


async def test_the_playground_starts_and_stops_its_own_servers() -> None:
    app = create_playground_app(Settings.from_env({}))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as http:
            config = (await http.get("/playground/config")).json()
        sandbox_origin = config["sandbox_origin"]
        assert listening(sandbox_origin)
        fake_slack_url = app.state.instance.settings.slack_api_url
        assert listening(fake_slack_url)
    assert not listening(sandbox_origin)
    assert not listening(fake_slack_url)
