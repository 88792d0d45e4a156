"""Fixtures for every test: a clean environment, the sandbox CRM and a fake Slack Web API on loopback,
and the real app in front of both (``slack``); the Hypothesis profile (tests/scope.py).

Every session-scoped server binds a free loopback port, so each pytest-xdist worker has its own.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

from bot.crm.client import CrmClient
from bot.dev.loopback import LoopbackServer
from bot.dev.playground.fake_slack import FakeSlackState, create_fake_slack
from bot.dev.sandbox import SandboxServer
from tests.scope import CI_EXAMPLES, LOCAL_EXAMPLES, bench_smoke, hypothesis_profile
from tests.slack.harness import SlackDriver, fake_slack_state, running_app, slack_settings
from tests.support import make_client

_ENV_PREFIXES = ("SLACK_", "CRM_", "CLUE_", "REDIS_", "DATABASE_")
BENCH_SMOKE_TEST = "tests/test_bench_smoke.py::test_quick_run"
# The longest files, started first so that neither xdist worker is left with one of them at the end
# (`make test` runs --dist loadfile --no-loadscope-reorder: files in this order, each on one worker).
RUN_FIRST = ("tests/dev/test_playground_browser.py",)  # the bench smoke run comes alone, after (Makefile)

# No deadline: a time limit per example is a timing assertion, and fails on a busy machine, not on a bug.
hypothesis_settings.register_profile("ci", max_examples=CI_EXAMPLES, deadline=None)
hypothesis_settings.register_profile("local", max_examples=LOCAL_EXAMPLES, deadline=None)
hypothesis_settings.load_profile(hypothesis_profile())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return RUN_FIRST.index(path) if path in RUN_FIRST else len(RUN_FIRST)

    items.sort(key=rank)  # stable: every other test keeps its place


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say how much of the adjustable parts ran (tests/scope.py): nothing is left out unsaid."""
    reports = [r for rs in terminalreporter.stats.values() for r in rs if hasattr(r, "nodeid")]
    if not reports:  # nothing ran (--collect-only)
        return
    profile, examples = hypothesis_settings.get_current_profile_name(), hypothesis_settings.default.max_examples
    terminalreporter.write_line(f"Hypothesis profile {profile!r}: {examples} examples per property "
                                f"(CI=true: {CI_EXAMPLES})")
    if any(r.nodeid.startswith(BENCH_SMOKE_TEST) for r in reports):
        terminalreporter.write_line(f"bench smoke run: {bench_smoke().describe()}")


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
    state = fake_slack_state()
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
